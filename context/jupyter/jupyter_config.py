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

Test override: TFIMAGE_JUPYTER_TOKEN_FILE (default /root/.jupyter/token).
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets' PyFileConfigLoader)

TOKEN_FILE = os.environ.get("TFIMAGE_JUPYTER_TOKEN_FILE", "/root/.jupyter/token")


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
    if env_token:
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
c.ServerApp.port = 8888
c.ServerApp.port_retries = 0  # fail loudly (supervisord restarts) instead of moving port
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True
c.ServerApp.root_dir = "/root"
c.ServerApp.base_url = "/jupyter/"
c.ServerApp.allow_remote_access = True
# Terminals are login shells: zh_CN locale, PATH and the login banner from /etc/profile.
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
