"""An independent DuckDB SQL implementation of the metrics and a representative subset of the
findings (PAY_UNARCHIVED, PAY_OUTSIDE_ARCHIVE_PERIOD, PAY_OVER_STANDARD, PAY_DUPLICATE,
LEDGER_MISMATCH, DUPLICATE_ARCHIVE), written from docs/RULES.md without reusing the polars code.

It is the oracle the tests compare the polars rules with, and the analytic peer in benchmarks.
Tables are polars frames / Arrow tables, or Parquet paths / globs (e.g. the lake's
``<data>/lake/payments/year=2019/*/data.parquet``). duckdb is a dev dependency: import this
module only from tests and benchmarks (it lives in bench/, outside the installed packages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl

from bangfu.frames import sheet_schema
from bangfu.settings import DEFAULT_SETTINGS, AuditSettings
from bangfu.sheets import SHEETS_BY_KEY

HB = "fund IS DISTINCT FROM '送温暖资金'"  # 帮扶资金: every fund but 送温暖资金


class DuckPeer:
    def __init__(
        self,
        tables: Mapping[str, pl.DataFrame | str | Path],
        settings: AuditSettings = DEFAULT_SETTINGS,
        con: duckdb.DuckDBPyConnection | None = None,
    ):
        self.con = con or duckdb.connect()
        self.settings = settings
        self._keep = []
        for key in (
            "archive",
            "payments",
            "ledger",
            "unit_standards",
            "targets",
            "evaluation",
            "units",
            "standards",
        ):
            src = tables.get(key)
            if src is None:
                spec = SHEETS_BY_KEY[key]
                src = pl.DataFrame(
                    schema=sheet_schema(spec, with_meta=key not in ("units", "standards"))
                )
            if isinstance(src, str | Path):
                self.con.execute(
                    f"CREATE OR REPLACE VIEW {key} AS SELECT * FROM "
                    f"read_parquet('{Path(src).as_posix()}', union_by_name = true)"
                )
            else:
                arrow = src.to_arrow() if isinstance(src, pl.DataFrame) else src
                self._keep.append(arrow)
                self.con.register(f"_{key}_src", arrow)
                self.con.execute(f"CREATE OR REPLACE VIEW {key} AS SELECT * FROM _{key}_src")

    def q(self, sql: str, params: list | None = None) -> pl.DataFrame:
        if params:
            return pl.from_arrow(self.con.execute(sql, params).fetch_arrow_table())
        return pl.from_arrow(self.con.sql(sql).to_arrow_table())

    # ---------------------------------------------------------------- shared CTEs
    @staticmethod
    def _anc() -> str:
        return """
        anc(unit_code, ancestor_code, depth) AS (
            SELECT unit_code, unit_code, 0 FROM units
            UNION ALL
            SELECT a.unit_code, u.parent_code, a.depth + 1
            FROM anc a JOIN units u ON u.unit_code = a.ancestor_code
            WHERE u.parent_code IS NOT NULL AND u.parent_code <> ''
        )"""

    def _dibao(self, year: int) -> str:
        return f"""
        dib AS (
            SELECT anc.unit_code,
                   arg_min(CAST(round(s.dibao_monthly * 100) AS BIGINT), anc.depth) AS dibao_c
            FROM anc JOIN standards s
              ON s.region_code = anc.ancestor_code AND s.year = {int(year)}
             AND s.dibao_monthly IS NOT NULL
            GROUP BY anc.unit_code
        )"""

    # ---------------------------------------------------------------- findings
    def pay_unarchived(self) -> pl.DataFrame:
        return self.q(
            f"""
            SELECT p.unit_code, p.payment_no, p.amount FROM payments p
            WHERE {HB} AND NOT EXISTS (
                SELECT 1 FROM archive a WHERE a.unit_code = p.unit_code AND a.id_number = p.id_number)
            ORDER BY 1, 2"""
        )

    def pay_outside_archive_period(self) -> pl.DataFrame:
        return self.q(
            f"""
            SELECT p.unit_code, p.payment_no, p.amount FROM payments p
            WHERE {HB}
              AND EXISTS (SELECT 1 FROM archive a
                          WHERE a.unit_code = p.unit_code AND a.id_number = p.id_number)
              AND NOT EXISTS (SELECT 1 FROM archive a
                              WHERE a.unit_code = p.unit_code AND a.id_number = p.id_number
                                AND a.archived_on <= p.paid_on
                                AND (a.exited_on IS NULL OR p.paid_on <= a.exited_on))
            ORDER BY 1, 2"""
        )

    def pay_over_standard(self, year: int) -> pl.DataFrame:
        s = self.settings
        lm, em = s.cap_months(year, "living"), s.cap_months(year, "education")
        return self.q(
            f"""
            WITH RECURSIVE {self._anc()}, {self._dibao(year)},
            latest AS (
                SELECT unit_code, id_number, hardship_type FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY unit_code, id_number
                        ORDER BY archived_on DESC, TRY_CAST(archive_no AS BIGINT) DESC NULLS LAST,
                                 archive_no DESC) AS rn
                    FROM archive WHERE id_number IS NOT NULL) WHERE rn = 1
            ),
            std AS (
                SELECT unit_code, category, hardship_type,
                       min(CAST(round(annual_cap * 100) AS BIGINT)) AS cap_std
                FROM unit_standards GROUP BY ALL
            ),
            p AS (
                SELECT p.unit_code, p.payment_no, p.id_number, p.category, p.paid_on,
                       CAST(round(p.amount * 100) AS BIGINT) AS c,
                       least(std.cap_std,
                             CASE p.category WHEN '生活救助' THEN dib.dibao_c * {lm}
                                             WHEN '助学救助' THEN dib.dibao_c * {em} END) AS cap
                FROM payments p
                JOIN latest l USING (unit_code, id_number)
                LEFT JOIN std ON std.unit_code = p.unit_code AND std.category = p.category
                             AND std.hardship_type = l.hardship_type
                LEFT JOIN dib ON dib.unit_code = p.unit_code
            ),
            run AS (
                SELECT *, sum(c) OVER (PARTITION BY unit_code, id_number, category
                                      ORDER BY paid_on, payment_no
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
                FROM p WHERE cap IS NOT NULL
            )
            SELECT unit_code, payment_no, least(c, cum - cap) / 100.0 AS amount
            FROM run WHERE cum > cap ORDER BY 1, 2"""
        )

    def pay_duplicate(self) -> pl.DataFrame:
        w = int(self.settings.duplicate_window_days)
        return self.q(
            f"""
            WITH p AS (
                SELECT unit_code, payment_no, amount, paid_on,
                       lag(paid_on) OVER (
                           PARTITION BY unit_code, id_number, category,
                                        CAST(round(amount * 100) AS BIGINT)
                           ORDER BY paid_on, payment_no) AS prev_on
                FROM payments)
            SELECT unit_code, payment_no, amount FROM p
            WHERE prev_on IS NOT NULL AND date_diff('day', prev_on, paid_on) <= {w}
            ORDER BY 1, 2"""
        )

    def ledger_mismatch(self) -> pl.DataFrame:
        tol = int(self.settings.ledger_tolerance_cents)
        return self.q(
            f"""
            WITH p AS (
                SELECT unit_code, voucher_no, sum(CAST(round(amount * 100) AS BIGINT)) AS pay_c
                FROM payments WHERE voucher_no IS NOT NULL GROUP BY ALL),
            l AS (
                SELECT unit_code, voucher_no,
                       sum(CAST(round(coalesce(debit, 0) * 100) AS BIGINT)) AS debit_c
                FROM ledger GROUP BY ALL)
            SELECT p.unit_code, p.voucher_no,
                   (CASE WHEN l.debit_c IS NULL THEN p.pay_c ELSE abs(p.pay_c - l.debit_c) END)
                   / 100.0 AS amount
            FROM p LEFT JOIN l USING (unit_code, voucher_no)
            WHERE l.debit_c IS NULL OR abs(p.pay_c - l.debit_c) > {tol}
            ORDER BY 1, 2"""
        )

    def duplicate_archive(self, year: int) -> pl.DataFrame:
        y0, y1 = f"DATE '{int(year)}-01-01'", f"DATE '{int(year) + 1}-01-01'"
        return self.q(
            f"""
            WITH a AS (
                SELECT row_number() OVER () AS rid, unit_code, archive_no, id_number,
                       greatest(archived_on, {y0}) AS s,
                       least(coalesce(exited_on, {y1}), {y1}) AS e
                FROM archive WHERE id_number IS NOT NULL)
            SELECT DISTINCT x.unit_code, x.archive_no FROM a x JOIN a o
              ON x.id_number = o.id_number AND x.rid <> o.rid
            WHERE greatest(x.s, o.s) < least(x.e, o.e) AND x.s < x.e AND o.s < o.e
            ORDER BY 1, 2"""
        )

    # ---------------------------------------------------------------- metrics
    def own_metrics(self, year: int) -> pl.DataFrame:
        y0, y1 = f"DATE '{int(year)}-01-01'", f"DATE '{int(year)}-12-31'"
        iny = "BETWEEN " + y0 + " AND " + y1
        out = f"exited_on {iny} AND exit_reason = '脱困'"
        return self.q(
            f"""
            WITH a AS (
                SELECT unit_code,
                  count(DISTINCT id_number) FILTER (WHERE archived_on < {y0}
                        AND (exited_on IS NULL OR exited_on >= {y0})) AS archived_at_start,
                  count(DISTINCT id_number) FILTER (WHERE archived_on <= {y1}
                        AND (exited_on IS NULL OR exited_on > {y1})) AS archived_at_end,
                  count(DISTINCT id_number) FILTER (WHERE archived_on {iny}) AS newly_archived,
                  count(DISTINCT id_number) FILTER (WHERE relieved_on {iny}) AS relieved,
                  count(DISTINCT id_number) FILTER (WHERE {out}) AS exited_out_of_hardship,
                  count(DISTINCT id_number) FILTER (WHERE {out} AND exit_path = '就业创业')
                      AS exited_by_path_employment,
                  count(DISTINCT id_number) FILTER (WHERE {out} AND exit_path = '社会保险')
                      AS exited_by_path_insurance,
                  count(DISTINCT id_number) FILTER (WHERE {out} AND exit_path = '医疗保障')
                      AS exited_by_path_medical,
                  count(DISTINCT id_number) FILTER (WHERE {out} AND exit_path = '社会救助兜底')
                      AS exited_by_path_social_assistance
                FROM archive GROUP BY unit_code),
            p AS (
                SELECT unit_code,
                  CAST(sum(CAST(round(amount * 100) AS BIGINT)) AS BIGINT) AS paid_total_c,
                  coalesce(sum(CAST(round(amount * 100) AS BIGINT))
                      FILTER (WHERE category = '生活救助'), 0) AS paid_living_c,
                  coalesce(sum(CAST(round(amount * 100) AS BIGINT))
                      FILTER (WHERE category IN ('职业培训', '职业介绍')), 0) AS paid_training_c,
                  coalesce(sum(CAST(round(amount * 100) AS BIGINT))
                      FILTER (WHERE category = '送温暖'), 0) AS paid_warmth_c
                FROM payments GROUP BY unit_code),
            e AS (
                SELECT unit_code,
                  count(*) FILTER (WHERE sample_type = '非建档户' AND verdict = '漏评') AS missed_num,
                  count(*) FILTER (WHERE sample_type = '非建档户') AS missed_den,
                  count(*) FILTER (WHERE sample_type = '退档户' AND verdict = '错退') AS wrong_exit_num,
                  count(*) FILTER (WHERE sample_type = '退档户') AS wrong_exit_den,
                  count(*) FILTER (WHERE satisfaction IN ('满意', '基本满意')) AS recognition_num,
                  count(satisfaction) AS recognition_den
                FROM evaluation GROUP BY unit_code),
            u AS (SELECT unit_code FROM archive UNION SELECT unit_code FROM payments)
            SELECT u.unit_code, a.* EXCLUDE (unit_code), p.* EXCLUDE (unit_code),
                   e.* EXCLUDE (unit_code)
            FROM u LEFT JOIN a USING (unit_code) LEFT JOIN p USING (unit_code)
                   LEFT JOIN e USING (unit_code)
            ORDER BY 1"""
        )

    def rollup(self, year: int, present_units: Iterable[str] | None = None) -> pl.DataFrame:
        own = self.own_metrics(year)
        if present_units is not None:
            own = own.filter(pl.col("unit_code").is_in(sorted(set(present_units))))
        self.con.register("_own", own.to_arrow())
        add = [c for c in own.columns if c != "unit_code"]
        sums = ", ".join(
            f"CASE WHEN count(o.{c}) > 0 THEN CAST(sum(coalesce(o.{c}, 0)) AS BIGINT) END AS {c}"
            for c in add
        )
        m = self.q(
            f"""
            WITH RECURSIVE {self._anc()}
            SELECT anc.ancestor_code AS unit_code, {sums},
                   bool_and(o.unit_code IS NOT NULL) AS complete
            FROM anc LEFT JOIN _own o ON o.unit_code = anc.unit_code
            GROUP BY anc.ancestor_code ORDER BY 1"""
        )
        rates = {"missed": "missed", "wrong_exit": "wrong_exit", "recognition": "recognition"}
        return m.with_columns(
            *[
                pl.when(pl.col(f"{n}_den") > 0)
                .then(pl.col(f"{n}_num") / pl.col(f"{n}_den"))
                .otherwise(None)
                .alias(f"{n}_rate")
                for n in rates
            ],
            *[
                (pl.col(f"{c}_c") / 100).alias(c)
                for c in ("paid_total", "paid_living", "paid_training", "paid_warmth")
            ],
        )
