#!/bin/sh
echo "app built on $(cat /opt/app/layer-os) with $(cat /opt/app/deps.count)"
