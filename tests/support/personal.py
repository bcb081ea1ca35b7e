"""What a whole ID number, a mobile number and a masked ID look like in text
(tests/e2e/test_personal_data.py, tests/e2e/test_access.py)."""

from __future__ import annotations

import re

WHOLE_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
MASKED_ID = re.compile(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]")
# hashes (sha256 of sources, settings, finding ids) are long hex runs that may hold 18 digits
HEX_RUN = re.compile(r"[0-9a-fA-F]{24,}")
