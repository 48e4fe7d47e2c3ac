"""The converted models on the device: LiteRT interpreters, delegates, the manifest contract, the runtime."""
