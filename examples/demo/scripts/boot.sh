#!/bin/sh
# Boot script for $NAME (passed through get_file, byte for byte).
echo "booting $NAME"
