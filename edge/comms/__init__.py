"""The MQTT contract and its delivery: message kinds and envelope (:mod:`.contract`), the durable outbox,
the MQTT publisher, Home Assistant discovery, commands, and the open-episode journal."""
