#!/bin/bash
# Inside the image: read the new repository's package list (pi-gen's package step does not update).
set -e
apt-get update
