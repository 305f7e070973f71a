#!/bin/bash
# /usr/local/bin/shutdown: "shut down" the container by stopping supervisord (PID 1)
# gracefully; supervisord stops sshd, JupyterLab and TensorBoard first, then exits,
# and the container stops. Installed by /init/init/init.py. Arguments (-h now, ...)
# are accepted and ignored. No system binary is touched.
set -u

# TFIMAGE_ROOT: path prefix, tests only (empty in the image).
R="${TFIMAGE_ROOT:-}"
CONF=/init/supervisor/supervisord.conf
PIDFILE="${R}/run/supervisord.pid"

# As in the original image: empty JupyterLab's trash so it is not kept in saved images.
rm -rf "${R}/root/.local/share/Trash"

echo "shutdown: stopping supervisord (all services) ..."
if command -v supervisorctl >/dev/null 2>&1 && supervisorctl -c "$CONF" shutdown; then
    exit 0
fi

# Fallback: SIGTERM to supervisord's pidfile (supervisord shuts down gracefully on TERM).
if [ -r "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    case "$pid" in
        '' | *[!0-9]*) ;;
        *)
            if kill -TERM "$pid" 2>/dev/null; then
                exit 0
            fi
            ;;
    esac
fi
echo "shutdown: supervisord is not running (no socket, no valid $PIDFILE)" >&2
exit 1
