#!/bin/sh
echo "joining cluster $CLUSTER"
