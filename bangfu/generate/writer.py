"""Write a generated scenario as a landing folder, with the truth a correct reader must match.

Entry point: :func:`write_landing`. Layout (input-ledgers.md)::

    out/reference/units.csv, standards.csv, civil_roster/<year>.csv
    out/ledgers/<year>/<unit>.xlsx   or   out/ledgers/<year>/<unit>/<sheet>.csv
    out/truth/ingest.csv, quarantine.csv, findings.csv, rejected.csv, locations.csv,
              variations.csv, manifest.json

``truth/`` sits outside ``reference/`` and ``ledgers/``, so readers never see it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xlsxwriter

from bangfu.frames import sheet_schema
from bangfu.generate.cells import BLANK_LINE
from bangfu.generate.junk import JUNK_KINDS, applicable_junk
from bangfu.generate.render import RenderedSheet, render_sheet, stable_seed
from bangfu.sheets import (
    CIVIL_ROSTER,
    LEDGER_SHEETS,
    STANDARDS,
    UNITS,
    SheetSpec,
)

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
# workbook forms besides .xlsx that the generator can write (re-saved by LibreOffice)
WORKBOOK_FORMS = ("ods", "xls")
# canonical key columns whose data-row positions go to truth/locations.csv
LOCATION_KEYS = {"archive": ("archive_no",), "payments": ("payment_no",), "ledger": ("voucher_no",)}

INGEST_COLUMNS = [
    "year",
    "unit_code",
    "sheet",
    "rows_read",
    "rows_kept",
    "rows_quarantined",
    "rows_skipped",
    "source_file",
]
QUARANTINE_COLUMNS = ["year", "unit_code", "sheet", "row_number", "column", "source_file", "kind"]
REJECTED_COLUMNS = ["year", "unit_code", "path", "kind"]


def _get(scenario: Any, name: str, default: Any = None) -> Any:
    if isinstance(scenario, dict):
        return scenario.get(name, default)
    return getattr(scenario, name, default)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    return text.encode(encoding)


def _reference_text(df: pl.DataFrame, spec: SheetSpec) -> str:
    """A reference file: contract headers, values as plain text (amounts, ints, dates ISO)."""
    cols = [c for c in spec.columns if c.name in df.columns]
    out = df.select(
        [
            (
                pl.col(c.name).dt.strftime("%Y-%m-%d")
                if c.kind == "date"
                else pl.col(c.name).cast(pl.String)
            ).alias(c.header)
            for c in cols
        ]
    )
    return out.write_csv()


# ---------------------------------------------------------------- ledger files


def _write_xlsx(path: Path, sheets: list[RenderedSheet]) -> None:
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    title_fmt = wb.add_format({"bold": True, "align": "center", "font_size": 14})
    money_fmt = wb.add_format({"num_format": "#,##0.00"})
    date_fmts: dict[str, Any] = {}
    for sh in sheets:
        ws = wb.add_worksheet(sh.sheet_name)
        dfmt = date_fmts.setdefault(sh.date_format, wb.add_format({"num_format": sh.date_format}))
        k = sh.cells.width
        write_string, write_number = ws.write_string, ws.write_number
        write_datetime = ws.write_datetime
        fromiso = dt.date.fromisoformat
        for r, row in enumerate(sh.cells.iter_rows()):
            if r == 0 and sh.merged_title:
                ws.merge_range(0, 0, 0, k - 1, row[0], title_fmt)
                continue
            for c, v in enumerate(row):
                if not v or v == BLANK_LINE:
                    continue
                if v[0] == "\x01":
                    t = v[1]
                    if t == "N":
                        write_number(r, c, float(v[2:]))
                    elif t == "F":
                        write_number(r, c, float(v[2:]), money_fmt)
                    else:
                        write_datetime(r, c, fromiso(v[2:]), dfmt)
                else:
                    write_string(r, c, v)
    wb.close()


def _csv_bytes(sh: RenderedSheet, encoding: str, crlf: bool) -> bytes:
    k = sh.cells.width
    text = sh.cells.write_csv(include_header=False, line_terminator="\r\n" if crlf else "\n")
    if BLANK_LINE in text:
        text = text.replace(BLANK_LINE + "," * (k - 1), "")
    return _encode(text, encoding)


def _tiny_workbook(path: Path, unit_name: str, year: int) -> None:
    """A small valid ledger (headers only) for the misplaced-file rejections."""
    rng = np.random.default_rng(0)
    sheets = [
        render_sheet(
            pl.DataFrame(schema=sheet_schema(s, with_meta=False)),
            s,
            form="xlsx",
            rng=rng,
            year=year,
            unit_name=unit_name,
        )
        for s in LEDGER_SHEETS
        if s.required
    ]
    _write_xlsx(path, sheets)


# ---------------------------------------------------------------- entry point


def write_landing(
    scenario: Any,
    out: Path,
    seed: int,
    *,
    csv_share: float = 0.25,
    junk_share: float = 0.3,
    bad_files: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workbook_shares: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write ``scenario`` as a landing folder under ``out``; return the truth file paths.

    ``csv_share``: share of unit-years written in the CSV form (raise it for scale L: CSV is
    much quicker to write). ``junk_share``: share of unit-years that get unreadable extra rows.
    ``bad_files``: also plant whole-file rejections (corrupt xlsx, a unit-year in both forms,
    an unknown unit code, a non-year folder).

    The whole scenario is in memory here; :class:`LandingWriter` writes the same folder one
    year at a time (``bangfu.generate.landing.generate`` streams that way when ``bad_files`` is
    off: the rejection victims are chosen from every year's ledgers and findings).
    """
    units: pl.DataFrame = _get(scenario, "units")
    roster: dict[int, pl.DataFrame] = _get(scenario, "civil_roster") or {}
    ledgers: dict[tuple[int, str], dict[str, pl.DataFrame]] = _get(scenario, "ledgers") or {}
    planted: pl.DataFrame | None = _get(scenario, "planted")
    keys = sorted(ledgers)
    w = LandingWriter(
        out,
        seed,
        units=units,
        standards=_get(scenario, "standards"),
        years=sorted({y for y, _ in ledgers} | set(roster)),
        roster_years=sorted(roster),
        n_unit_years=len(keys),
        scale=_get(scenario, "scale"),
        csv_share=csv_share,
        junk_share=junk_share,
        bad_files=bad_files,
        progress=progress,
        workbook_shares=workbook_shares,
    )
    for y, df in sorted(roster.items()):
        w.roster(y, df)
    if bad_files and len(keys) >= 4:
        w.choose_victims(ledgers, planted)
    for year, unit in keys:
        w.unit_year(year, unit, ledgers[(year, unit)])
    return w.finish(planted, _get(scenario, "dropped_optional_sheets"))


class LandingWriter:
    """A landing folder written piece by piece: the reference files, then each year's civil
    roster and unit-years in (year, unit) order, then the truth (:meth:`finish`).

    Memory is one unit-year's rendered sheets plus the small truth lists; the locations truth
    (one row per key of every data row) goes to ``truth/locations.csv`` as it is made. Calls in
    the order of :func:`write_landing` give the same bytes as it does."""

    def __init__(
        self,
        out: Path,
        seed: int,
        *,
        units: pl.DataFrame,
        standards: pl.DataFrame,
        years: list[int],
        roster_years: list[int],
        n_unit_years: int,
        scale: str | None,
        csv_share: float = 0.25,
        junk_share: float = 0.3,
        bad_files: bool = False,
        progress: Callable[[int, int], None] | None = None,
        workbook_shares: dict[str, float] | None = None,
    ) -> None:
        out = Path(out)
        # share of the workbook ledgers re-saved by LibreOffice as each other form ({"xls": 0.1,
        # "ods": 0.1}); drawn from a stream of its own, so without it the folder is unchanged
        self.workbook_shares = dict(sorted((workbook_shares or {}).items()))
        unknown = set(self.workbook_shares) - set(WORKBOOK_FORMS)
        if unknown or sum(self.workbook_shares.values()) > 1:
            raise ValueError(f"workbook shares: forms among {WORKBOOK_FORMS}, sum ≤ 1")
        self._office: dict[tuple[str, int], list[Path]] = {}  # (form, year) → staged .xlsx
        self._staging: Path | None = None
        self.out = out
        (out / "reference" / "civil_roster").mkdir(parents=True, exist_ok=True)
        (out / "ledgers").mkdir(parents=True, exist_ok=True)
        self.truth = out / "truth"
        self.truth.mkdir(parents=True, exist_ok=True)
        self.seed, self.scale, self.years = seed, scale, list(years)
        self.csv_share, self.junk_share, self.bad_files = csv_share, junk_share, bad_files
        self.rng = np.random.default_rng(stable_seed(seed, "landing"))
        self.units = units
        self.names = dict(
            zip(units["unit_code"].to_list(), units["unit_name"].to_list(), strict=True)
        )
        self.levels = dict(zip(units["unit_code"].to_list(), units["level"].to_list(), strict=True))
        self.total = 2 + len(roster_years) + n_unit_years + (4 if bad_files else 0)
        self.done = 0
        self.progress = progress
        self.forms: dict[str, dict[str, str]] = {}
        self.ref_enc: dict[str, str] = {}
        self.victims: dict[tuple[int, str], str] = {}
        self.keys_seen: list[tuple[int, str]] = []
        self.ingest: list[tuple] = []
        self.quarantine: list[tuple] = []
        self.rejected: list[tuple] = []
        self.variations: list[tuple] = []
        self.unused_junk = list(JUNK_KINDS)
        self.counts = {"ledger_files": 0, "xlsx": 0, "csv": 0, "data_rows": 0, "junk_rows": 0}
        self.counts.update({f: 0 for f in self.workbook_shares})
        self.locations_path = self.truth / "locations.csv"
        self.locations_path.unlink(missing_ok=True)
        self._locations_started = False
        # ---- reference files (UTF-8, with or without BOM); the rosters' encodings are drawn
        # now, in the order the files were always written, so a roster may come later
        for name, df, spec in (
            ("units.csv", units, UNITS),
            ("standards.csv", standards, STANDARDS),
        ):
            enc = ENCODINGS[int(self.rng.integers(2))]
            (out / "reference" / name).write_bytes(_encode(_reference_text(df, spec), enc))
            self.ref_enc[f"reference/{name}"] = enc
            self.tick()
        self.roster_enc = {y: ENCODINGS[int(self.rng.integers(2))] for y in roster_years}

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def roster(self, year: int, df: pl.DataFrame) -> None:
        enc = self.roster_enc[year]
        path = self.out / "reference" / "civil_roster" / f"{year}.csv"
        path.write_bytes(_encode(_reference_text(df, CIVIL_ROSTER), enc))
        self.ref_enc[f"reference/civil_roster/{year}.csv"] = enc
        self.tick()

    def choose_victims(
        self,
        ledgers: dict[tuple[int, str], dict[str, pl.DataFrame]],
        planted: pl.DataFrame | None,
    ) -> None:
        """Victims of whole-file rejections (bad_files): county unit-years with few findings."""
        keys = sorted(ledgers)
        nfind: dict[tuple[int, str], int] = {}
        if planted is not None and planted.height and {"year", "unit_code"} <= set(planted.columns):
            for y, u, cnt in planted.group_by(["year", "unit_code"]).len().iter_rows():
                nfind[(int(y), u)] = cnt
        cands = [k for k in keys if self.levels.get(k[1]) == "县"] or list(keys)
        cands.sort(
            key=lambda k: (nfind.get(k, 0), ledgers[k].get("archive", pl.DataFrame()).height, k)
        )
        self.victims[cands[0]] = "corrupt_xlsx"
        self.victims[cands[1]] = "both_forms"

    def unit_year(self, year: int, unit: str, sheets_in: dict[str, pl.DataFrame]) -> None:
        """Render and write one unit-year's ledger; keep its truth."""
        seed, names = self.seed, self.names
        self.keys_seen.append((year, unit))
        urng = np.random.default_rng(stable_seed(seed, year, unit, "unit"))
        form = "csv" if urng.random() < self.csv_share else "xlsx"
        enc = ENCODINGS[int(urng.integers(3))]
        crlf = urng.random() < 0.3
        with_junk = urng.random() < self.junk_share
        victim = self.victims.get((year, unit))
        if victim == "corrupt_xlsx":
            form = "xlsx"
        book = self._workbook_form(year, unit) if form == "xlsx" and victim is None else "xlsx"
        rendered: list[RenderedSheet] = []
        for spec in LEDGER_SHEETS:
            if spec.key not in sheets_in:
                continue
            df = sheets_in[spec.key]
            srng = np.random.default_rng(stable_seed(seed, year, unit, spec.key))
            junk: list[str] = []
            if with_junk and srng.random() < 0.6 and victim is None:
                kinds = applicable_junk(spec, df, form)
                want = int(srng.integers(1, 4))
                first = [k for k in self.unused_junk if k in kinds]
                rest = [k for k in kinds if k not in first]
                srng.shuffle(rest)
                junk = (first + rest)[:want]
                for k in junk:
                    if k in self.unused_junk:
                        self.unused_junk.remove(k)
            rendered.append(
                render_sheet(
                    df,
                    spec,
                    form=form,
                    rng=srng,
                    year=year,
                    unit_name=names.get(unit, unit),
                    junk=junk,
                    fresh_prefix=f"Q{year % 100:02d}",
                    key_columns=LOCATION_KEYS.get(spec.key, ()),
                )
            )
        if urng.random() < 0.2:
            urng.shuffle(rendered)
        ydir = self.out / "ledgers" / str(year)
        ydir.mkdir(parents=True, exist_ok=True)
        xlsx_path = ydir / f"{unit}.xlsx" if book == "xlsx" else self._staged(book, year, unit)
        csv_dir = ydir / unit
        files: dict[str, str] = {}
        if form == "xlsx" or victim == "both_forms":
            if victim == "corrupt_xlsx":
                blob = b"PK\x03\x04" + bytes(urng.integers(0, 256, 700, dtype=np.uint8))
                xlsx_path.write_bytes(blob)
            else:
                _write_xlsx(xlsx_path, rendered)
            for sh in rendered:
                files[sh.spec.title] = f"ledgers/{year}/{unit}.{book}"
        if form == "csv" or victim == "both_forms":
            csv_dir.mkdir(exist_ok=True)
            for sh in rendered:
                (csv_dir / f"{sh.sheet_name}.csv").write_bytes(_csv_bytes(sh, enc, crlf))
                files.setdefault(sh.spec.title, f"ledgers/{year}/{unit}/{sh.sheet_name}.csv")
        self.counts["ledger_files"] += 1
        self.counts[book if form == "xlsx" else form] += 1
        self.forms.setdefault(str(year), {})[unit] = book if form == "xlsx" else f"csv:{enc}"
        self.tick()
        if victim:
            if victim == "corrupt_xlsx":
                self.rejected.append((year, unit, f"ledgers/{year}/{unit}.xlsx", "corrupt_xlsx"))
            else:
                self.rejected.append((year, unit, f"ledgers/{year}/{unit}.xlsx", "both_forms"))
                self.rejected.append((year, unit, f"ledgers/{year}/{unit}", "both_forms"))
            return
        locations = []
        for sh in rendered:
            src = files[sh.spec.title]
            self.ingest.append(
                (
                    year,
                    unit,
                    sh.spec.title,
                    sh.rows_read,
                    sh.rows_kept,
                    sh.rows_quarantined,
                    sh.rows_skipped,
                    src,
                )
            )
            self.quarantine.extend(
                (year, unit, sh.spec.title, q["row_number"], q["column"], src, q["kind"])
                for q in sh.quarantine
            )
            self.variations.extend((year, unit, sh.spec.title, v) for v in sorted(sh.variations))
            if form == "csv":
                self.variations.append((year, unit, sh.spec.title, f"encoding:{enc}"))
            self.counts["data_rows"] += sh.rows_kept
            self.counts["junk_rows"] += sh.rows_quarantined
            if sh.data_rows is not None and sh.data_rows.height:
                key = sh.data_rows.columns[0]
                first = sh.data_rows.group_by(key, maintain_order=True).agg(
                    pl.col("row_number").min()
                )
                locations.append(
                    first.select(
                        pl.lit(year, pl.Int64).alias("year"),
                        pl.lit(unit).alias("unit_code"),
                        pl.lit(sh.spec.title).alias("sheet"),
                        pl.lit(key).alias("key"),
                        pl.col(key).cast(pl.String).alias("value"),
                        pl.col("row_number"),
                        pl.lit(src).alias("source_file"),
                    )
                )
        if locations:
            with self.locations_path.open("ab") as fh:
                pl.concat(locations).write_csv(fh, include_header=not self._locations_started)
            self._locations_started = True

    def _workbook_form(self, year: int, unit: str) -> str:
        if not self.workbook_shares:
            return "xlsx"
        draw = np.random.default_rng(stable_seed(self.seed, year, unit, "workbook_form")).random()
        for form, share in self.workbook_shares.items():
            if draw < share:
                return form
            draw -= share
        return "xlsx"

    def _staged(self, form: str, year: int, unit: str) -> Path:
        """Where a ledger to be re-saved as ``form`` is first written as .xlsx."""
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="bangfu-generate-"))
        path = self._staging / form / str(year) / f"{unit}.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._office.setdefault((form, year), []).append(path)
        return path

    def _resave_workbooks(self) -> None:
        """The staged .xlsx ledgers saved by LibreOffice as .xls / .ods into their year folders."""
        from bangfu.generate.office import convert

        try:
            for (form, year), paths in sorted(self._office.items()):
                convert(paths, form, self.out / "ledgers" / str(year))
        finally:
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
            self._office.clear()

    def finish(
        self,
        planted: pl.DataFrame | None,
        dropped_optional_sheets: Any = None,
    ) -> dict[str, Path]:
        """The misplaced files (bad_files) and the truth files; their paths."""
        self._resave_workbooks()
        out, truth, names = self.out, self.truth, self.names
        keys, years, rejected = self.keys_seen, self.years, self.rejected
        # ---- misplaced files (harmless extras: never to be read as any unit)
        if self.bad_files and keys:
            y0 = years[-1] if years else 2019
            unknown = next(f"{c:06d}" for c in range(999999, 0, -1) if f"{c:06d}" not in names)
            (out / "ledgers" / str(y0)).mkdir(parents=True, exist_ok=True)
            _tiny_workbook(out / "ledgers" / str(y0) / f"{unknown}.xlsx", "未知单位", y0)
            rejected.append((y0, unknown, f"ledgers/{y0}/{unknown}.xlsx", "unknown_unit"))
            self.tick()
            some = keys[0][1]
            bad_dir = out / "ledgers" / f"{y0}备份"
            bad_dir.mkdir(parents=True, exist_ok=True)
            _tiny_workbook(bad_dir / f"{some}.xlsx", names.get(some, some), y0)
            rejected.append((None, some, f"ledgers/{y0}备份/{some}.xlsx", "not_a_year"))
            self.tick()
            while self.done < self.total:
                self.tick()

        # ---- truth
        paths = {
            "ingest": truth / "ingest.csv",
            "quarantine": truth / "quarantine.csv",
            "findings": truth / "findings.csv",
            "rejected": truth / "rejected.csv",
            "locations": truth / "locations.csv",
            "variations": truth / "variations.csv",
            "manifest": truth / "manifest.json",
        }
        pl.DataFrame(self.ingest, schema=INGEST_COLUMNS, orient="row").with_columns(
            pl.col("year").cast(pl.Int64)
        ).write_csv(paths["ingest"])
        pl.DataFrame(self.quarantine, schema=QUARANTINE_COLUMNS, orient="row").cast(
            {"year": pl.Int64, "row_number": pl.Int64}
        ).write_csv(paths["quarantine"])
        pl.DataFrame(
            rejected,
            schema={
                "year": pl.Int64,
                "unit_code": pl.String,
                "path": pl.String,
                "kind": pl.String,
            },
            orient="row",
        ).write_csv(paths["rejected"])
        pl.DataFrame(
            self.variations, schema=["year", "unit_code", "sheet", "variation"], orient="row"
        ).write_csv(paths["variations"])
        if not self._locations_started:
            loc_schema = {
                "year": pl.Int64,
                "unit_code": pl.String,
                "sheet": pl.String,
                "key": pl.String,
                "value": pl.String,
                "row_number": pl.Int64,
                "source_file": pl.String,
            }
            pl.DataFrame(schema=loc_schema).write_csv(paths["locations"])
        findings = planted if planted is not None else pl.DataFrame()
        dropped_findings = 0
        victims = self.victims
        if victims and findings.height and {"year", "unit_code"} <= set(findings.columns):
            gone = pl.DataFrame(
                [(y, u) for y, u in victims], schema=["year", "unit_code"], orient="row"
            ).cast({"year": findings.schema["year"]})
            kept = findings.join(gone, on=["year", "unit_code"], how="anti")
            dropped_findings = findings.height - kept.height
            findings = kept
        findings.write_csv(paths["findings"])

        var_units: dict[str, list[str]] = {}
        var_counts: dict[str, int] = {}
        for y, u, s, v in self.variations:
            var_units.setdefault(v, [])
            if len(var_units[v]) < 50:
                var_units[v].append(f"{y}/{u}/{s}")
            var_counts[v] = var_counts.get(v, 0) + 1
        manifest = {
            "scale": self.scale,
            "seed": self.seed,
            "years": years,
            "csv_share": self.csv_share,
            "junk_share": self.junk_share,
            "bad_files": self.bad_files,
            "counts": {
                **self.counts,
                "units": self.units.height,
                "unit_years": len(keys),
                "sheets": len(self.ingest),
                "quarantine_rows": len(self.quarantine),
                "rejected_paths": len(rejected),
                "findings": findings.height,
                "findings_dropped_for_rejected_unit_years": dropped_findings,
            },
            "reference_encodings": self.ref_enc,
            "forms": self.forms,
            "rejected_unit_years": [f"{y}/{u}:{k}" for (y, u), k in sorted(victims.items())],
            "junk_kinds_unplanted": self.unused_junk,
            "dropped_optional_sheets": _jsonable(dropped_optional_sheets),
            "variation_counts": dict(sorted(var_counts.items())),
            "variations": {k: var_units[k] for k in sorted(var_units)},
        }
        paths["manifest"].write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        return paths


def _jsonable(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {
            "/".join(map(str, k)) if isinstance(k, tuple) else str(k): _jsonable(v)
            for k, v in x.items()
        }
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in x]
    if isinstance(x, pl.DataFrame):
        return x.to_dicts()
    return x if isinstance(x, (int, float, str, bool)) else str(x)
