"""The device side of cribside: everything that runs on the cribside computer.

Nothing under ``cribside.edge`` imports TensorFlow, ``cribside.training`` or
``cribside.convert``; vendor libraries (picamera2, Edge TPU delegates) are
imported only inside the adapter that uses them.
"""
