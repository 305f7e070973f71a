# shellcheck shell=sh
# /etc/profile.d/zz-tfimage-motd.sh: show the login banner (/etc/tfimage-motd) exactly once
# per interactive login (ssh login, JupyterLab terminal). Installed by /init/init/init.py.
# Never for commands: `ssh host CMD`, scp, sftp and rsync are not interactive (their output
# must stay clean), and login shells started inside a session (TFIMAGE_MOTD_SHOWN is
# exported) do not repeat it.
case $- in
    *i*)
        if [ -z "${TFIMAGE_MOTD_SHOWN:-}" ] && [ -r /etc/tfimage-motd ] && command -v bash >/dev/null 2>&1; then
            TFIMAGE_MOTD_SHOWN=1
            export TFIMAGE_MOTD_SHOWN
            bash /etc/tfimage-motd || true
        fi
        ;;
esac
