"""Static assets of the console (package data: console.css, console.js)."""
