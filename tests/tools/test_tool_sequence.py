"""protein-stats and residue-codes, checked against Biopython's independent ProtParam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from Bio.SeqUtils import ProtParamData
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from hypothesis import given, settings
from hypothesis import strategies as st

from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.tools.base import RunContext
from proteiniq_jupyter.tools.sequence import (
    DIWV,
    KYTE_DOOLITTLE,
    STANDARD_AMINO_ACIDS,
    ProteinStats,
    ResidueCodes,
    parse_fasta,
    protein_statistics,
)

UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
INSULIN_A = "GIVEQCCTSICSLYQLENYCN"
INSULIN_B = "FVNQHLCGSHLVEALYLVCGERGFFYTPKT"
LYSOZYME = (
    "KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQATNRNTDGSTDYGILQINSRWWCNDGRTPGSRNL"
    "CNIPCSALLSSDITASVNCAKKIVSDGNGMNAWVAWRNRCKGTDVQAWIRGCRL"
)


def run_stats(make_input: Any, tmp_path: Path, content: str) -> Any:
    tool = ProteinStats()
    settings_ = tool.parse_settings({})
    inputs = [make_input("sequences", "protein", "fasta", content, "query.fasta")]
    tool.validate(inputs, settings_)
    return tool.run(inputs, settings_, RunContext(tmp_path))


def assert_matches_biopython(row: dict[str, Any], sequence: str) -> None:
    reference = ProteinAnalysis(sequence)
    reduced, cystines = reference.molar_extinction_coefficient()
    assert row["length"] == len(sequence)
    # ExPASy's residue masses differ from Biopython's in the fourth decimal place.
    assert row["molecular_weight"] == pytest.approx(reference.molecular_weight(), rel=1e-4)
    # Biopython's bisection is confined to pH 4.05-12; outside it, check that
    # Biopython's own charge function changes sign at our pI.
    pi = row["isoelectric_point"]
    if 4.1 < pi < 11.9:
        assert pi == pytest.approx(reference.isoelectric_point(), abs=0.01)
    assert reference.charge_at_pH(pi - 0.01) > 0 > reference.charge_at_pH(pi + 0.01)
    assert row["charge_ph7"] == pytest.approx(reference.charge_at_pH(7.0), abs=0.01)
    assert row["instability_index"] == pytest.approx(reference.instability_index(), abs=0.01)
    assert row["stable"] is (reference.instability_index() < 40)
    assert row["gravy"] == pytest.approx(reference.gravy(), abs=1e-3)
    assert row["aromaticity"] == pytest.approx(reference.aromaticity(), abs=1e-4)
    assert row["extinction_coefficient_reduced"] == reduced
    assert row["extinction_coefficient_cystines"] == cystines


def test_protein_stats_on_the_real_p54025_record(
    make_input: Any, tmp_path: Path, shared_fixtures: Path
) -> None:
    text = (shared_fixtures / "colabfold" / "P54025.fasta").read_text()
    sequence = "".join(text.splitlines()[1:]).strip()
    result = run_stats(make_input, tmp_path, text)

    assert len(result.rows) == 1
    row = result.rows[0]
    assert row["name"] == "sp|P54025|RL41_METJA"
    assert row["length"] == 38
    assert_matches_biopython(row, sequence)
    # An arginine/lysine-rich ribosomal protein: strongly basic.
    assert row["isoelectric_point"] > 12
    # One sequence: its values are also the job's fields (one CSV row per job).
    assert result.fields["sequences"] == 1
    assert result.fields["molecular_weight"] == row["molecular_weight"]
    assert [f.name for f in result.files] == ["query_stats.csv"]
    csv_text = (tmp_path / "query_stats.csv").read_text().splitlines()
    assert csv_text[0].startswith("index,name,length,molecular_weight,isoelectric_point")
    assert csv_text[1].startswith("1,sp|P54025|RL41_METJA,38,")


def test_ubiquitin_matches_the_published_expasy_values(make_input: Any, tmp_path: Path) -> None:
    row = run_stats(make_input, tmp_path, f">ubiquitin human\n{UBIQUITIN}\n").rows[0]
    # ExPASy ProtParam, human ubiquitin (P0CG48, one repeat): Mw 8564.84, pI 6.56.
    assert row["molecular_weight"] == 8564.84
    assert row["isoelectric_point"] == 6.56
    assert row["extinction_coefficient_reduced"] == 1490  # one Tyr, no Trp, no Cys
    assert_matches_biopython(row, UBIQUITIN)


def test_several_records_give_one_row_each(make_input: Any, tmp_path: Path) -> None:
    text = (
        f">insulin_A human insulin A chain\n{INSULIN_A}\n"
        f">insulin_B\n{INSULIN_B[:15]}\n  {INSULIN_B[15:].lower()}*\n\n"
        f">lysozyme hen egg white\n{LYSOZYME}\n"
    )
    progress: list[float] = []
    tool = ProteinStats()
    inputs = [make_input("sequences", "protein", "fasta", text)]
    settings_ = tool.parse_settings(None)
    tool.validate(inputs, settings_)
    result = tool.run(inputs, settings_, RunContext(tmp_path, lambda f, _m: progress.append(f)))

    assert [r["name"] for r in result.rows] == ["insulin_A", "insulin_B", "lysozyme"]
    for row, sequence in zip(result.rows, (INSULIN_A, INSULIN_B, LYSOZYME), strict=True):
        assert_matches_biopython(row, sequence)
    # Insulin A has four Cys: two cystines add 2 x 125 to the Tyr absorbance.
    assert result.rows[0]["extinction_coefficient_cystines"] == 2 * 1490 + 2 * 125
    # Hen lysozyme: 6 Trp, 3 Tyr and 8 Cys (four disulfides).
    assert (LYSOZYME.count("W"), LYSOZYME.count("Y"), LYSOZYME.count("C")) == (6, 3, 8)
    assert result.rows[2]["extinction_coefficient_reduced"] == 6 * 5500 + 3 * 1490 == 37470
    assert result.rows[2]["extinction_coefficient_cystines"] == 37470 + 4 * 125
    assert result.fields == {"sequences": 3, "total_length": 21 + 30 + 129}
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_a_bare_sequence_is_named_by_its_position(make_input: Any, tmp_path: Path) -> None:
    result = run_stats(make_input, tmp_path, f"  {UBIQUITIN[:40]}\n{UBIQUITIN[40:]}\n")
    assert result.rows[0]["name"] == "sequence 1"
    assert result.rows[0]["length"] == 76


def test_the_dipeptide_and_hydropathy_tables_match_biopython() -> None:
    for first in STANDARD_AMINO_ACIDS:
        for second in STANDARD_AMINO_ACIDS:
            assert DIWV[first][second] == ProtParamData.DIWV[first][second], first + second
        assert KYTE_DOOLITTLE[first] == ProtParamData.kd[first]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=STANDARD_AMINO_ACIDS, min_size=2, max_size=300))
def test_statistics_agree_with_biopython_on_any_sequence(sequence: str) -> None:
    row = protein_statistics(sequence)
    reference = ProteinAnalysis(sequence)
    assert row["molecular_weight"] == pytest.approx(reference.molecular_weight(), rel=1e-4)
    assert row["instability_index"] == pytest.approx(reference.instability_index(), abs=0.006)
    assert row["gravy"] == pytest.approx(reference.gravy(), abs=6e-4)
    pi = row["isoelectric_point"]
    if 4.1 < pi < 11.9:
        assert pi == pytest.approx(reference.isoelectric_point(), abs=0.01)
    assert reference.charge_at_pH(pi - 0.01) > 0 > reference.charge_at_pH(pi + 0.01)


@pytest.mark.parametrize(
    ("text", "record", "line", "column", "words"),
    [
        (">seq1 test\nMKTAYIAK\nQRQXSFVK\n", "seq1", 3, 4, "'X' (an unknown residue)"),
        (">seq1\nMKJT\n", "seq1", 2, 3, "'J' (ambiguous Leu/Ile)"),
        (">a\nMK\n>b second\nMKTBL\n", "b", 4, 4, "'B' (ambiguous Asp/Asn)"),
        (">z\n  MKZ\n", "z", 2, 5, "'Z' (ambiguous Glu/Gln)"),
        (">stop\nMKT*AYIAK\n", "stop", 2, 4, "'*' (a stop) inside the sequence"),
        (">num\nMKT 1AY\n", "num", 2, 5, "digit '1'"),
        ("MKTA-YIAK\n", "sequence 1", 1, 5, "'-' (an alignment gap)"),
    ],
)
def test_bad_characters_are_named_with_record_line_and_character(
    make_input: Any, text: str, record: str, line: int, column: int, words: str
) -> None:
    tool = ProteinStats()
    with pytest.raises(ValidationError) as caught:
        tool.validate([make_input("sequences", "protein", "fasta", text)], tool.parse_settings({}))
    message = caught.value.message
    assert f"record {record!r}, line {line}, character {column}: {words}" in message
    error = caught.value.errors[0]
    assert (error["record"], error["line"], error["column"]) == (record, line, column)
    assert error["field"] == "input.inputs[0].content"


def test_every_bad_character_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_fasta(">a\nMXK\n>b\nM9K\n")
    places = [(e["record"], e["line"], e["column"]) for e in caught.value.errors]
    assert places == [("a", 2, 2), ("b", 4, 2)]


def test_a_header_without_sequence_is_named(make_input: Any) -> None:
    tool = ProteinStats()
    text = ">first\nMKT\n>empty record\n>third\nMKV\n"
    with pytest.raises(ValidationError) as caught:
        tool.validate([make_input("sequences", "protein", "fasta", text)], tool.parse_settings({}))
    assert caught.value.message == "record 'empty', line 3: the record has no sequence"


@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_an_empty_file_is_refused(make_input: Any, text: str) -> None:
    tool = ProteinStats()
    with pytest.raises(ValidationError, match="the content is empty"):
        tool.validate([make_input("sequences", "protein", "fasta", text)], tool.parse_settings({}))
    with pytest.raises(ValidationError, match="no sequence"):
        parse_fasta(text)


def test_only_comments_is_no_sequence() -> None:
    with pytest.raises(ValidationError, match="the input has no sequence"):
        parse_fasta("; a comment line\n;another\n")


def test_case_whitespace_and_a_final_stop_are_accepted() -> None:
    records = parse_fasta(">x desc\r\n mk ta\tyi\r\nak* \r\n")
    assert records[0].sequence == "MKTAYIAK"
    assert records[0].header == "x desc"
    assert records[0].line == 1


def test_too_many_sequences_are_refused() -> None:
    with pytest.raises(ValidationError, match="the input has 3 sequences; the limit is 2"):
        parse_fasta(">a\nM\n>b\nM\n>c\nM\n", max_records=2)


# -- residue-codes -----------------------------------------------------------


def run_codes(
    make_input: Any, tmp_path: Path, content: str, **raw_settings: Any
) -> tuple[Any, str]:
    tool = ResidueCodes()
    settings_ = tool.parse_settings(raw_settings)
    inputs = [make_input("sequences", "protein", "text", content)]
    tool.validate(inputs, settings_)
    result = tool.run(inputs, settings_, RunContext(tmp_path))
    return result, (tmp_path / result.files[0].name).read_text()


def test_one_to_three_with_the_default_dash(make_input: Any, tmp_path: Path) -> None:
    result, text = run_codes(make_input, tmp_path, ">p1 peptide\nMKTWU\n")
    assert result.rows[0]["converted"] == "Met-Lys-Thr-Trp-Sec"
    assert result.fields["direction"] == "one_to_three"
    assert result.fields["converted"] == "Met-Lys-Thr-Trp-Sec"
    assert text == ">p1 peptide\nMet-Lys-Thr-Trp-Sec\n"


def test_one_to_three_upper_case_with_spaces(make_input: Any, tmp_path: Path) -> None:
    result, _ = run_codes(make_input, tmp_path, "mkx\n", separator="space", letter_case="upper")
    assert result.rows[0]["converted"] == "MET LYS XAA"


@pytest.mark.parametrize(
    "text",
    ["MET LYS THR", "Met-Lys-Thr", "met,lys\nthr", "MetLysThr", "  MET - LYS ,THR  \n"],
)
def test_three_to_one_reads_common_spellings(make_input: Any, tmp_path: Path, text: str) -> None:
    result, fasta = run_codes(make_input, tmp_path, text, direction="three_to_one")
    assert result.rows[0]["converted"] == "MKT"
    assert fasta == ">sequence 1\nMKT\n"


def test_three_to_one_keeps_record_names_and_wraps(make_input: Any, tmp_path: Path) -> None:
    text = ">a first\nGly Gly Gly Gly\n>b\nAla\nUNK\n"
    result, fasta = run_codes(make_input, tmp_path, text, direction="three_to_one", line_width=3)
    assert [(r["name"], r["converted"]) for r in result.rows] == [("a", "GGGG"), ("b", "AX")]
    assert fasta == ">a first\nGGG\nG\n>b\nAX\n"
    assert result.fields == {"direction": "three_to_one", "records": 2, "residues": 6}


def test_unknown_three_letter_code_names_token_and_place(make_input: Any) -> None:
    tool = ResidueCodes()
    settings_ = tool.parse_settings({"direction": "three_to_one"})
    text = ">pep\nMet Lys\nThr Foo Gly\n"
    with pytest.raises(ValidationError) as caught:
        tool.validate([make_input("sequences", "protein", "text", text)], settings_)
    assert caught.value.message == (
        "record 'pep', line 3, character 5: 'Foo' (residue 4) is not a three-letter amino-acid code"
    )
    assert caught.value.errors[0]["token"] == "Foo"


def test_codes_round_trip_on_the_real_record(
    make_input: Any, tmp_path: Path, shared_fixtures: Path
) -> None:
    fasta = (shared_fixtures / "colabfold" / "P54025.fasta").read_text()
    sequence = "".join(fasta.splitlines()[1:]).strip()
    three, _ = run_codes(make_input, tmp_path / "a", fasta)
    assert three.rows[0]["converted"].startswith("Met-Ile-Pro-Ile-Lys-Arg")
    back, _ = run_codes(
        make_input, tmp_path / "b", three.rows[0]["converted"], direction="three_to_one"
    )
    assert back.rows[0]["converted"] == sequence


def test_residue_code_settings_are_checked() -> None:
    tool = ResidueCodes()
    with pytest.raises(ValidationError, match=r"settings\.direction"):
        tool.parse_settings({"direction": "sideways"})
    with pytest.raises(ValidationError, match=r"settings\.colour"):
        tool.parse_settings({"colour": "red"})
    with pytest.raises(ValidationError, match=r"settings\.line_width"):
        tool.parse_settings({"line_width": -1})


def test_one_to_three_refuses_a_digit(make_input: Any) -> None:
    tool = ResidueCodes()
    with pytest.raises(ValidationError, match=r"record 'sequence 1', line 2, character 3: digit"):
        tool.validate(
            [make_input("sequences", "protein", "fasta", "MKT\nAY7\n")], tool.parse_settings({})
        )
