"""Kafka (confluent-kafka): the batch consumer, the dead-letter publisher, the order publisher."""
