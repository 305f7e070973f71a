"""JupyterLab (jupyter_server) configuration of the TensorFlow dev image.

Loaded by supervisord's program:jupyterlab with
``jupyter-lab --allow-root --config=/init/jupyter/jupyter_config.py``.
Works with jupyter_server 1.x (JupyterLab 3) and 2.x (JupyterLab 4); Python 3.6+.

Authentication (decided at every start, never baked into the image):

1. JUPYTER_ALLOW_NO_TOKEN=1  -> no token, no password (boot.sh logs a warning).
2. JUPYTER_TOKEN             -> that token.
3. /root/.jupyter/token      -> the random token boot.sh generated for this container.
4. otherwise                 -> jupyter_server's own random token (printed in its log).

Embedding and CORS:

- Content-Security-Policy ``frame-ancestors * 'self'`` is kept from the original image
  because GPU-cloud consoles embed JupyterLab in an iframe. Override it with
  JUPYTER_FRAME_ANCESTORS (e.g. "'self'" to forbid embedding by other sites).
- allow_origin is NOT '*' by default any more (the original image's '*' let any web
  page drive the server cross-origin). Set JUPYTER_ALLOW_ORIGIN (e.g. '*' or
  'https://console.example.com') when a proxy on another origin needs it.

Port, base URL, root directory and token file are the image contract's: read from the
environment (boot.sh exports /etc/tfimage/contract.env, supervisord passes it on) or, when
JupyterLab is started by hand without it, from that file. They are never spelled out here.
"""

import os
import re

c = get_config()  # noqa: F821  (injected by traitlets' PyFileConfigLoader)

CONTRACT_ENV = os.environ.get("TFIMAGE_CONTRACT_ENV") or "/etc/tfimage/contract.env"  # override: tests


def _contract_file() -> dict:
    values = {}
    try:
        with open(CONTRACT_ENV, encoding="utf-8") as fo:
            for line in fo:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    name, _, value = line.partition("=")
                    values[name.strip()] = value.strip()
    except (OSError, UnicodeDecodeError):
        pass
    return values


_FILE_VALUES = None  # type: dict | None


def contract(name: str) -> str:
    """A contract value: environment first, then the file; a clear error when neither has it."""
    global _FILE_VALUES
    value = os.environ.get(name, "")
    if value:
        return value
    if _FILE_VALUES is None:
        _FILE_VALUES = _contract_file()
    value = _FILE_VALUES.get(name, "")
    if not value:
        raise RuntimeError(name + " is neither in the environment nor in " + CONTRACT_ENV)
    return value


TOKEN_FILE = contract("TFIMAGE_JUPYTER_TOKEN_FILE")
MIN_TOKEN_LENGTH = int(contract("TFIMAGE_MIN_SECRET_LENGTH"))


def _read_token_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fo:
            return fo.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _resolve_token() -> "str | None":
    """'' for token-less mode, a token string, or None to let jupyter_server pick one."""
    if os.environ.get("JUPYTER_ALLOW_NO_TOKEN", "").strip() == "1":
        return ""
    env_token = os.environ.get("JUPYTER_TOKEN", "").strip()
    # boot.sh refuses (and unsets) blank, short and spaced tokens: same rule here.
    if len(env_token) >= MIN_TOKEN_LENGTH and not re.search(r"[\s\x00-\x1f\x7f]", env_token):
        return env_token
    return _read_token_file(TOKEN_FILE) or None


def _server_major_version() -> "int | None":
    """Major version of the installed jupyter_server, or None when unknown."""
    try:
        import jupyter_server

        return int(str(jupyter_server.__version__).split(".")[0])
    except Exception:
        return None


# --- network / paths --------------------------------------------------------------
c.ServerApp.ip = "0.0.0.0"  # noqa: S104  (published container port; auth by token)
c.ServerApp.port = int(contract("TFIMAGE_JUPYTER_PORT"))
c.ServerApp.port_retries = 0  # fail loudly (supervisord restarts) instead of moving port
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True
c.ServerApp.root_dir = contract("TFIMAGE_WORKDIR")
c.ServerApp.base_url = contract("TFIMAGE_JUPYTER_BASE_URL")
c.ServerApp.allow_remote_access = True
# Terminals are login shells: the contract's locale, PATH and the login banner from /etc/profile.
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash", "-l"]}

# --- from the original image ------------------------------------------------------
_major = _server_major_version()
# Output rate limits: ServerApp traits in 1.x, moved to the websocket connection in 2.x.
if _major is None or _major >= 2:
    c.ZMQChannelsWebsocketConnection.iopub_data_rate_limit = 1000000.0
    c.ZMQChannelsWebsocketConnection.rate_limit_window = 3.0
if _major is None or _major < 2:
    c.ServerApp.iopub_data_rate_limit = 1000000.0
    c.ServerApp.rate_limit_window = 3.0
c.MultiKernelManager.default_kernel_name = "python3"
c.NotebookNotary.db_file = ":memory:"

_frame_ancestors = os.environ.get("JUPYTER_FRAME_ANCESTORS", "* 'self'").strip() or "'self'"
c.ServerApp.tornado_settings = {
    "headers": {"Content-Security-Policy": "frame-ancestors " + _frame_ancestors},
}
_allow_origin = os.environ.get("JUPYTER_ALLOW_ORIGIN", "").strip()
if _allow_origin:
    c.ServerApp.allow_origin = _allow_origin

# --- authentication ---------------------------------------------------------------
_token = _resolve_token()
if _token is not None:
    if _major is None or _major >= 2:
        c.IdentityProvider.token = _token
    if _major is None or _major < 2:
        c.ServerApp.token = _token
if _token == "":
    # Token-less mode must not fall back to a password prompt either.
    if _major is None or _major >= 2:
        c.PasswordIdentityProvider.hashed_password = ""
        c.PasswordIdentityProvider.password_required = False
    if _major is None or _major < 2:
        c.ServerApp.password = ""
        c.ServerApp.password_required = False
