"""The main service session: every everyday use of a running image, over the network.

Root password from /sync/root-passwd (as the README documents), a key, and every everyday use:
interactive login, command mode, scp/sftp/rsync, JupyterLab, TensorBoard, and supervisord's
autorestart.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable

from ci.model import contract
from ci.probe.checks import COMMAND_MODE_SCRIPT
from ci.probe.rules import command_mode_problems
from ci.probe.services.session import (
    HOST,
    JUPYTER_URL,
    KEY_OPTS,
    KEY_SSH,
    LOGIN_NOISE,
    MOTD_MARK,
    PASSWORD_SSH,
    SUPERVISORCTL,
    TENSORBOARD_URL,
    Session,
    clean,
    value_of,
    wait_for_ssh,
)
from ci.report.model import CheckResult, failed, passed, tail
from ci.scripts import script_text

# --------------------------------------------------------------------------- main session checks


async def check_ssh_password(s: Session) -> CheckResult:
    """Password from /sync/root-passwd; a real interactive login: MOTD once, LANG, CST, no noise."""
    name = f"ssh password login from {contract.ROOT_PASSWORD_FILE} (interactive: MOTD once, LANG, CST, quiet)"
    out = await s.sh(
        wait_for_ssh(PASSWORD_SSH)
        + f"""{PASSWORD_SSH} -tt <<'EOF'
printf 'TFCI_%s=%s\\n' LANG "$LANG" ZONE "$(date +%Z)"
exit
EOF
echo "TFCI_RC=$?"
echo "TFCI_SYNC=$({KEY_SSH} 'test -e {contract.ROOT_PASSWORD_FILE} && echo present || echo deleted')"
"""
    )
    text = clean(out.both)
    if value_of(text, "TFCI_RC") != "0":
        return failed(name, f"interactive ssh with the root password failed: {tail(text, 4)}")
    problems = []
    if value_of(text, "TFCI_LANG") != contract.LOCALE:
        problems.append(f"LANG is {value_of(text, 'TFCI_LANG') or 'unset'}, expected {contract.LOCALE}")
    if value_of(text, "TFCI_ZONE") != contract.TIMEZONE_ABBREVIATION:
        problems.append(f"date +%Z is {value_of(text, 'TFCI_ZONE') or 'empty'}")
    if (shown := text.count(MOTD_MARK)) != 1:
        problems.append(f"the login banner was shown {shown} times, expected once")
    noise = [line for line in text.splitlines() if any(n in line for n in LOGIN_NOISE)]
    if noise:
        problems.append(f"the login printed error noise: {noise[0][:100]!r}")
    if value_of(text, "TFCI_SYNC") != "deleted":
        problems.append(f"{contract.ROOT_PASSWORD_FILE} is {value_of(text, 'TFCI_SYNC') or '?'} after boot")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(
        name, f"password accepted; {contract.ROOT_PASSWORD_FILE} deleted; MOTD once; no noise; LANG; CST"
    )


async def check_ssh_key(s: Session) -> CheckResult:
    name = "ssh key login"
    out = await s.sh(f"for i in $(seq 30); do {KEY_SSH} 'echo TFCI_KEY=ok' && exit 0; sleep 2; done; exit 1")
    if out.code != 0 or value_of(out.stdout, "TFCI_KEY") != "ok":
        return failed(name, f"key login failed (exit {out.code}): {tail(clean(out.both), 4)}")
    return passed(name, "SSH_PUBLIC_KEY accepted")


async def check_ssh_command(s: Session) -> CheckResult:
    """`ssh host CMD` as VS Code, Ansible or `ssh host python train.py` use it."""
    name = "ssh command mode: python imports tensorflow; PATH, LANG, TZ; no MOTD or noise"
    tf = "python -c " + shlex.quote('import tensorflow as tf; print("TFCI_TF=" + tf.__version__)')
    out = await s.sh(
        f"""
{KEY_SSH} true >/tmp/true.out 2>&1; echo "TRUE_RC=$?"; echo "TRUE_BYTES=$(wc -c </tmp/true.out)"
{KEY_SSH} {shlex.quote(COMMAND_MODE_SCRIPT)} >/tmp/env.out 2>&1; echo "ENV_RC=$?"
{KEY_SSH} {shlex.quote("TF_CPP_MIN_LOG_LEVEL=3 " + tf)} >/tmp/tf.out 2>/tmp/tf.err; echo "TF_RC=$?"
echo "TF_OUT=$(head -c 300 /tmp/tf.out | tr '\\n' '|')"
echo "TF_ERR=$(tail -c 300 /tmp/tf.err | tr '\\n' '|')"
echo ---env---; cat /tmp/env.out
"""
    )
    text = out.stdout
    env_out = text.split("---env---\n", 1)[1] if "---env---\n" in text else ""
    problems = []
    if value_of(text, "TRUE_RC") != "0" or value_of(text, "TRUE_BYTES") != "0":
        problems.append(
            f"`ssh host true` printed {value_of(text, 'TRUE_BYTES') or '?'} bytes (must be silent)"
        )
    problems += command_mode_problems(s.spec, env_out)
    tf_out = value_of(text, "TF_OUT")
    if value_of(text, "TF_RC") != "0" or tf_out != f"TFCI_TF={s.spec.tf_version}|":
        err = value_of(text, "TF_ERR")[-160:]
        problems.append(f"python -c 'import tensorflow' over ssh: {tf_out!r} {err!r}")
    if problems:
        return failed(name, "; ".join(problems))
    prefix_bin = f"{s.spec.python_prefix}/bin"
    return passed(name, f"TensorFlow {s.spec.tf_version}; PATH starts with {prefix_bin}; silent")


async def check_scp(s: Session) -> CheckResult:
    """scp both ways, with the SFTP protocol (default since OpenSSH 9.0) and the legacy one (-O),
    and rsync over ssh.

    Legacy scp runs `scp -t/-f` and rsync runs `rsync --server` through the remote shell: the first
    stray byte of a shell startup file breaks them.
    """
    name = "scp and rsync a file both ways (SFTP, legacy scp, rsync over ssh)"
    scp = f"scp -q {KEY_OPTS}"
    rsync = f'rsync -q -e "ssh {KEY_OPTS}"'
    out = await s.sh(
        f"""
head -c 262144 /dev/urandom >/tmp/up.bin
echo "WANT=$(sha256sum </tmp/up.bin | cut -d' ' -f1)"
for mode in sftp legacy rsync; do
  flag=""; [ "$mode" = legacy ] && flag=-O
  copy="{scp} $flag"; [ "$mode" = rsync ] && copy='{rsync}'
  eval "$copy /tmp/up.bin root@{HOST}:/root/tfci-$mode.bin" 2>/tmp/up-$mode.err; echo "UP_${{mode}}_RC=$?"
  eval "$copy root@{HOST}:/root/tfci-$mode.bin /tmp/down-$mode.bin" 2>/tmp/down-$mode.err
  echo "DOWN_${{mode}}_RC=$?"
  echo "DOWN_${{mode}}=$(sha256sum </tmp/down-$mode.bin 2>/dev/null | cut -d' ' -f1)"
  echo "ERR_${{mode}}=$(cat /tmp/up-$mode.err /tmp/down-$mode.err | head -c 200 | tr '\\n' '|')"
done
{KEY_SSH} 'rm -f /root/tfci-sftp.bin /root/tfci-legacy.bin /root/tfci-rsync.bin'
"""
    )
    text = out.stdout
    want = value_of(text, "WANT")
    problems = []
    for mode in ("sftp", "legacy", "rsync"):
        rcs = (value_of(text, f"UP_{mode}_RC"), value_of(text, f"DOWN_{mode}_RC"))
        if rcs != ("0", "0") or value_of(text, f"DOWN_{mode}") != want:
            same = "ok" if value_of(text, f"DOWN_{mode}") == want else "differs"
            problems.append(f"{mode}: exit {rcs}, round trip {same}")
            problems.append(f"{mode} stderr: {value_of(text, f'ERR_{mode}')!r}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "256 KiB up and down, identical sha256, with SFTP, legacy scp (-O) and rsync")


async def check_jupyter(s: Session) -> CheckResult:
    name = f"JupyterLab under {contract.JUPYTER.path} (token required)"
    url = JUPYTER_URL
    out = await s.sh(
        f"""
code=000
for i in $(seq 90); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' -H "Authorization: token $JUPYTER_TOKEN" {url}/api/status)
  [ "$code" = 200 ] && break
  sleep 2
done
echo "WITH_TOKEN=$code"
echo "NO_TOKEN_API=$(curl -s -o /dev/null -w '%{{http_code}}' {url}/api/status)"
echo "NO_TOKEN_LAB=$(curl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}' {url}/lab)"
auth="Authorization: token $JUPYTER_TOKEN"
echo "LAB_WITH_TOKEN=$(curl -s -o /dev/null -w '%{{http_code}}' -H "$auth" {url}/lab)"
"""
    )
    authorised = value_of(out.stdout, "WITH_TOKEN")
    no_api = value_of(out.stdout, "NO_TOKEN_API")
    no_lab = value_of(out.stdout, "NO_TOKEN_LAB")
    lab = value_of(out.stdout, "LAB_WITH_TOKEN")
    problems = []
    if authorised != "200":
        problems.append(f"api/status with the token answered {authorised or 'nothing'}, not 200")
    if lab != "200":
        problems.append(f"lab with the token answered {lab or 'nothing'}, not 200")
    if no_api not in ("403", "401"):
        problems.append(f"api/status WITHOUT a token answered {no_api}; expected 403")
    lab_code, _, location = no_lab.partition(" ")
    if not (lab_code == "302" and "login" in location) and lab_code not in ("401", "403"):
        problems.append(f"lab WITHOUT a token answered {no_lab}; expected 302 to the login page")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"200 with token; {no_api} / {lab_code}->login without")


async def check_tensorboard(s: Session) -> CheckResult:
    """The seed's sample script, run over SSH with the image's python, shows up in TensorBoard."""
    name = f"TensorBoard under {contract.TENSORBOARD.path} serves the loss scalar"
    base = TENSORBOARD_URL
    out = await s.sh(
        f"""
{KEY_SSH} 'python - {contract.TENSORBOARD_LOGDIR}' <<'PYEOF'
{script_text("tensorboard-sample.py")}
PYEOF
echo "SAMPLE_RC=$?"
tags=""
for i in $(seq 60); do
  tags=$(curl -s {base}/data/plugin/scalars/tags || true)
  case "$tags" in *'"loss"'*) break ;; esac
  sleep 2
done
echo "TAGS=$tags"
echo "INDEX=$(curl -s -o /dev/null -w '%{{http_code}}' {base}/)"
"""
    )
    text = clean(out.stdout)
    if value_of(text, "SAMPLE_RC") != "0" or "wrote loss scalars" not in text:
        return failed(name, f"the sample script failed over SSH: {tail(clean(out.both), 5)}")
    if '"loss"' not in value_of(text, "TAGS"):
        return failed(name, f"data/plugin/scalars/tags has no loss: {value_of(text, 'TAGS')[:200]}")
    if value_of(text, "INDEX") != "200":
        return failed(name, f"{contract.TENSORBOARD.path} answered {value_of(text, 'INDEX')}, not 200")
    return passed(name, f"sample ran over SSH; tags list 'loss'; {contract.TENSORBOARD.path} answers 200")


async def check_autorestart(s: Session) -> CheckResult:
    """Kill TensorBoard: supervisord must start a new one and it must answer again."""
    name = "supervisord restarts a killed service"
    program = contract.TENSORBOARD.name
    out = await s.sh(
        f"""
old=$({KEY_SSH} '{SUPERVISORCTL} pid {program}')
echo "OLD=$old"
{KEY_SSH} "kill -9 $old"
new=""
for i in $(seq 60); do
  sleep 2
  st=$({KEY_SSH} '{SUPERVISORCTL} status {program}' || true)
  new=$({KEY_SSH} '{SUPERVISORCTL} pid {program}' || true)
  case "$st" in *RUNNING*) [ "$new" != "$old" ] && [ "$new" != 0 ] && break ;; esac
done
echo "STATUS=$st"
echo "NEW=$new"
code=000
for i in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' {TENSORBOARD_URL}/)
  [ "$code" = 200 ] && break
  sleep 2
done
echo "HTTP=$code"
"""
    )
    text = clean(out.stdout)
    old, new = value_of(text, "OLD"), value_of(text, "NEW")
    if not old.isdigit() or old == "0":
        why = tail(clean(out.both), 4)
        return failed(name, f"could not read TensorBoard's pid via supervisorctl: {why}")
    if "RUNNING" not in value_of(text, "STATUS") or not new.isdigit() or new in (old, "0"):
        return failed(name, f"after kill -9 {old}: status {value_of(text, 'STATUS')!r}, pid {new!r}")
    if value_of(text, "HTTP") != "200":
        return failed(name, f"TensorBoard restarted (pid {new}) but answers {value_of(text, 'HTTP')}")
    return passed(name, f"tensorboard pid {old} killed -> restarted as {new}; answers 200")


SERVICE_CHECKS: tuple[Callable[[Session], Awaitable[CheckResult]], ...] = (
    check_ssh_password,
    check_ssh_key,
    check_ssh_command,
    check_scp,
    check_jupyter,
    check_tensorboard,
    check_autorestart,
)
