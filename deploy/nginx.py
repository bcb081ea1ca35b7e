"""Render deploy/nginx-bangfu.conf.template: ``python -m deploy.nginx > /etc/nginx/conf.d/bangfu.conf``.

Only the template's ``${BANGFU_…}`` names are filled (from the environment, else the defaults
below); nginx's own ``$variables`` are left alone, which a plain ``envsubst`` would not do.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx-bangfu.conf.template")
PLACEHOLDER = re.compile(r"\$\{(BANGFU_[A-Z0-9_]+)\}")
DEFAULTS = {
    "BANGFU_LISTEN_ADDRESS": "*",  # every IPv4 address of the host
    "BANGFU_HTTP_PORT": "80",
    "BANGFU_HTTPS_PORT": "443",
    "BANGFU_UI_PORT": "3000",  # the auditors' read-only webserver
    "BANGFU_OPS_PORT": "3001",  # the operators' webserver (--path-prefix /ops)
    "BANGFU_AUDITORS_HTPASSWD": "/etc/nginx/bangfu-auditors.htpasswd",
    "BANGFU_OPERATORS_HTPASSWD": "/etc/nginx/bangfu-operators.htpasswd",
    "BANGFU_NGINX_LOG_DIR": "/var/log/nginx",
}
# BANGFU_SERVER_NAME, BANGFU_TLS_CERT and BANGFU_TLS_KEY have no default: the host's name and
# its certificate are the IT department's to give.


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render(values: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with every ``${BANGFU_…}`` replaced; a name without a value is an error."""
    text = template.read_text(encoding="utf-8")
    merged = {**DEFAULTS, **{k: v for k, v in values.items() if k.startswith("BANGFU_")}}
    absent = sorted(placeholders(text) - set(merged))
    if absent:
        raise ValueError(f"{template.name}: no value for {', '.join(absent)}; export them first")
    return PLACEHOLDER.sub(lambda m: merged[m.group(1)], text)


def main() -> int:
    try:
        sys.stdout.write(render(os.environ))
    except ValueError as exc:
        print(f"deploy.nginx: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
