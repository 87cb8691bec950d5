"""Create the Kafka topics healthdlp needs, idempotently, before sensors or workers start.

Topics are created explicitly (not by broker auto-creation) because the partition count is a
contract: events are keyed by principal and the faust window table is co-partitioned with the
events topic, so both sides must agree on ``cfg.partitions``. An existing topic is accepted as
is; a different partition count on an existing topic is reported, not silently "fixed".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import kafka.errors
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from model.config import KafkaConfig

log = logging.getLogger(__name__)

#: What kafka-python raises when no bootstrap server answers: KafkaTimeoutError in 3.x,
#: NoBrokersAvailable in 2.x.
_NO_BROKERS = getattr(kafka.errors, "NoBrokersAvailable", KafkaConnectionError)
UNREACHABLE: tuple[type[Exception], ...] = (KafkaTimeoutError, KafkaConnectionError, _NO_BROKERS)

#: Error code the CreateTopics response carries for a topic that already exists.
_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


class BrokerUnavailable(RuntimeError):
    """The Kafka bootstrap servers could not be reached; the message names them."""


class TopicSetupError(RuntimeError):
    """The broker refused to create a topic (bad replication factor, authorisation ...)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int


def topic_specs(cfg: KafkaConfig) -> tuple[TopicSpec, ...]:
    """The topics of one deployment: events, alerts and the events dead-letter queue."""
    return tuple(
        TopicSpec(name, cfg.partitions, cfg.replication)
        for name in (cfg.events_topic, cfg.alerts_topic, cfg.dlq_topic)
    )


def connect_admin(cfg: KafkaConfig, client_id: str = "healthdlp-admin") -> KafkaAdminClient:
    """An admin client, or :class:`BrokerUnavailable` with the address in the message."""
    timeout = max(1000, min(cfg.request_timeout_ms, 30000))
    try:
        return KafkaAdminClient(
            bootstrap_servers=cfg.bootstrap,
            client_id=client_id,
            request_timeout_ms=cfg.request_timeout_ms,
            bootstrap_timeout_ms=timeout,
        )
    except UNREACHABLE as e:
        raise BrokerUnavailable(
            f"Kafka broker at {cfg.bootstrap} is unreachable ({e}); check kafka.bootstrap in the config"
        ) from e


def ensure_topics(cfg: KafkaConfig) -> None:
    """Create the events, alerts and dead-letter topics if missing; existing topics are fine."""
    specs = topic_specs(cfg)
    if cfg.partitions < 1 or cfg.replication < 1:
        # checked here because not every broker refuses it (Tansu creates a 0-partition topic)
        raise TopicSetupError(
            f"kafka.partitions and kafka.replication must be at least 1 (got {cfg.partitions}, "
            f"{cfg.replication}) in {cfg.bootstrap} topic setup"
        )
    admin = connect_admin(cfg)
    try:
        request = {
            s.name: {"num_partitions": s.partitions, "replication_factor": s.replication} for s in specs
        }
        try:
            response = admin.create_topics(request, timeout_ms=cfg.request_timeout_ms, raise_errors=False)
        except KafkaError as e:
            raise TopicSetupError(f"creating topics on {cfg.bootstrap} failed: {e}") from e
        problems = []
        for result in response.get("topics", ()):
            code = result.get("error_code", 0)
            if code == 0:
                log.info("created topic %s (%d partitions)", result["name"], result.get("num_partitions", -1))
            elif code != _TOPIC_ALREADY_EXISTS:
                problems.append(f"{result['name']}: {result.get('error_message') or f'error code {code}'}")
        if problems:
            raise TopicSetupError(f"broker {cfg.bootstrap} refused to create topics: " + "; ".join(problems))
        _warn_on_partition_mismatch(admin, specs)
    finally:
        admin.close()


def _warn_on_partition_mismatch(admin: KafkaAdminClient, specs: tuple[TopicSpec, ...]) -> None:
    """An existing topic with other partitions breaks co-partitioning: say so loudly."""
    try:
        described = admin.describe_topics([s.name for s in specs])
    except KafkaError as e:  # describing is advisory; creation already succeeded
        log.warning("could not describe topics to check partition counts: %s", e)
        return
    wanted = {s.name: s.partitions for s in specs}
    for topic in described:
        name = topic.get("name")
        have = len(topic.get("partitions") or ())
        if name in wanted and have and have != wanted[name]:
            log.warning(
                "topic %s has %d partitions, config asks for %d; keyed windows assume the events topic "
                "and the worker's changelog topics have the same count",
                name, have, wanted[name],
            )
