# shellcheck shell=sh
# /etc/profile.d/zz-tfimage-motd.sh: show the login banner (/etc/tfimage-motd)
# once per interactive login shell. Installed by /init/init/init.py.
# /etc/profile is also sourced by non-interactive scripts (boot.sh): they skip it.
case $- in
    *i*)
        if [ -z "${TFIMAGE_MOTD_SHOWN:-}" ] && [ -r /etc/tfimage-motd ] && command -v bash >/dev/null 2>&1; then
            TFIMAGE_MOTD_SHOWN=1
            export TFIMAGE_MOTD_SHOWN
            bash /etc/tfimage-motd || true
        fi
        ;;
esac
