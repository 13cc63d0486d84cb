#!/bin/sh
# A test chat backend that is ready at once and dies on the first message.
echo "crash: ready" >&2
printf '>>> '
read -r line
echo "fatal: cannot handle '$line'" >&2
exit 3
