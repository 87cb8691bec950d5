import sys

from healthdlp.cli import main

sys.exit(main())
