"""The device side of cribside: everything that runs on the cribside computer.

Nothing under ``cribside.edge`` depends on TensorFlow, on the training or conversion
packages, or on the command-line layer (tests/test_architecture.py checks it); vendor
libraries (picamera2, Edge TPU delegates) are loaded only inside the adapter that uses them.
"""
