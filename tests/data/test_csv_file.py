"""Reading real CSV files: separators, quoted line breaks, duplicate and very many columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from looplab.config import Config, make_config
from looplab.data import load_prepared, read_csv
from looplab.data.csv_file import read_table
from looplab.errors import ConfigError, DataError

# statsmodels-style files: anes96 is tab-separated, modechoice semicolon-separated, spector
# space-aligned with runs of spaces (and leading ones)
ANES = "popul\tTVnews\tage\tvote\n" + "".join(
    f"{i * 1.5}\t{i % 8}\t{20 + i}\t{i % 2}\n" for i in range(12)
)
MODECHOICE = "mode;ttme;invc;hinc\n" + "".join(
    f"{i % 4 + 1};{i * 3};{10 + i};{i * 2.5}\n" for i in range(16)
)
SPECTOR = "OBS   GPA   TUCE   GRADE\n" + "".join(
    f"  {i + 1:>2}   {2 + i / 10:.2f}   {15 + i}   {i % 2}\n" for i in range(12)
)
PIPES = "x|y|label\n" + "".join(f"{i}|{i * 2}|{'ab'[i % 2]}\n" for i in range(10))


@pytest.mark.parametrize(
    ("text", "target", "features", "first"),
    [
        (ANES, "vote", ["popul", "TVnews", "age"], [0.0, 0.0, 20.0]),
        (MODECHOICE, "mode", ["ttme", "invc", "hinc"], [0.0, 10.0, 0.0]),
        (SPECTOR, "GRADE", ["OBS", "GPA", "TUCE"], [1.0, 2.0, 15.0]),
        (PIPES, "label", ["x", "y"], [0.0, 0.0]),
    ],
    ids=["tab", "semicolon", "spaces", "pipe"],
)
def test_the_separator_is_detected(
    tmp_path: Path, text: str, target: str, features: list[str], first: list[float]
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(text)
    data = read_csv(path, target)
    assert data.feature_names == features
    assert data.X[0].tolist() == pytest.approx(first)
    assert data.n_rows == len(text.splitlines()) - 1


def test_commas_win_over_spaces_inside_cells(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("first name,age,y\n" + "".join(f"Ann Lee,{i},{i % 2}\n" for i in range(6)))
    assert read_table(path).header == ["first name", "age", "y"]


def test_an_explicit_sep_is_used_and_flags_reach_the_reader(tmp_path: Path) -> None:
    # both ',' and ';' split every line in two; detection takes the comma, --sep ';' wins
    path = tmp_path / "either.csv"
    path.write_text("a;b,y\n" + "".join(f"{i};x,{i % 2}\n" for i in range(10)))
    assert read_table(path).header == ["a;b", "y"]
    assert read_table(path, "semicolon").header == ["a", "b,y"]
    assert read_table(path, ";").rows[1] == {"a": "1", "b,y": "x,1"}
    config = make_config(None, dataset=f"csv:{path}", target="b,y", sep=";", val_fraction=0.0)
    assert load_prepared(config).feature_names == ["a"]


def test_a_joined_header_is_named_with_the_sep_to_use(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("x;colour;y\n1;red;0\n2;blue;1\n")
    with pytest.raises(DataError) as info:
        read_csv(path, "y", sep=",")
    assert str(info.value) == (
        f"CSV file {str(path)!r} has a header that looks like one joined column "
        "('x;colour;y'): its separator seems to be ';', not ','; pass --sep ';'"
    )
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("x    y\n1    2\n")
    with pytest.raises(DataError, match=r"seems to be space, not tab; pass --sep space"):
        read_csv(spaced, "y", sep="tab")


@pytest.mark.parametrize("sep", [",", ";", "tab", "\t", "space", "|", None])
def test_sep_accepts_the_documented_spellings(sep: str | None) -> None:
    assert Config(sep=sep).validate().sep == sep


def test_an_unknown_sep_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        make_config(None, sep="colon")
    assert str(info.value) == (
        "unknown sep 'colon'; choose one of: , ; tab space | "
        "(or leave it out to detect the separator)"
    )


def test_line_breaks_and_separator_characters_inside_cells_survive(tmp_path: Path) -> None:
    odd = ["a\u2028b", "c\u2029d", "e\x0bf", "g\x0ch", "i\x1cj\x1dk\x1el"]
    lines = ["note,x,y", '"two\r\nlines",1,0', '"two\nlines",2,1']
    lines += [f"{v},{i},{i % 2}" for i, v in enumerate(odd, start=3)]
    lines += [f'"{v}",9,1' for v in odd[:2]]
    path = tmp_path / "notes.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    table = read_table(path)
    assert [r["note"] for r in table.rows] == ["two\r\nlines", "two\nlines", *odd, *odd[:2]]
    assert table.lines == [2, 4, 6, 7, 8, 9, 10, 11, 12]  # the quoted \r\n and \n take 2 lines
    data = read_csv(path, "y")
    assert data.n_rows == 9
    assert data.encoding["columns"][0]["categories"] == sorted({"two\r\nlines", "two\nlines", *odd})


def test_duplicate_column_names_are_refused_with_their_positions(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("x,price,y,price,x\n1,2,0,3,4\n")
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value) == (
        f"CSV file {str(path)!r} has duplicate column names: 'x' (columns 1, 5); "
        "'price' (columns 2, 4); rename one of each so every column has its own name"
    )


def test_a_wrong_name_among_100000_columns_gets_a_short_message(tmp_path: Path) -> None:
    names = [f"feature_{i}" for i in range(100_000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    with pytest.raises(DataError) as info:
        read_csv(path, "feature_12345x")
    message = str(info.value)
    assert len(message) < 300 + len(str(path))
    assert "it has 100,000 columns; the closest are: feature_12345, " in message
    assert message.endswith("... and 99,995 more")
    with pytest.raises(DataError, match=r"the first are: feature_0, feature_1, .* 99,995 more$"):
        read_csv(path, "feature_0", drop=["price"])


def test_an_unclosed_quote_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('x,y\n1,0\n"2,1\n' + "3,0\n" * 40_000)
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value).startswith(f"CSV file {str(path)!r} cannot be parsed at line 3 (")
    assert str(info.value).endswith('check for an unclosed quote (")')


def test_trailing_separators_add_no_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("x,colour,y,\n" + "".join(f"{i},{'ab'[i % 2]},{i % 2},\n" for i in range(6)))
    data = read_csv(path, "y")
    assert data.feature_names == ["x", "colour=a", "colour=b"]
    assert data.X[1].tolist() == [1.0, 0.0, 1.0]


def test_a_row_longer_than_the_header_is_refused(tmp_path: Path) -> None:
    # an unquoted "Smith, J" shifts every later cell of its row one column to the right
    path = tmp_path / "names.csv"
    rows = [f"{i},Lee,{i % 2}" for i in range(6)] + ["6,Smith, J,1", "7,Ng,0", "8,Li, K,1"]
    path.write_text("id,name,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value) == (
        f"CSV file {str(path)!r} has rows with more values than its header has names "
        "(line 8 has 4, the header 3 and 1 more row); quote cells that hold the separator "
        "(','), name every column in the header, or pass the right --sep"
    )


def test_a_column_name_with_a_line_break_keeps_messages_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text('"price\nEUR",size,y\n1,2,0\n3,4,1\n')
    with pytest.raises(DataError) as info:
        read_csv(path, "price")
    assert str(info.value).endswith("its columns are: price\\nEUR, size, y")
    text = tmp_path / "text.csv"
    text.write_text('"long\ncomment",y\n' + "".join(f"note {i},{i % 2}\n" for i in range(30)))
    with pytest.raises(DataError) as info:
        read_csv(text, "y")
    assert str(info.value).endswith("leave it out with --drop 'long\\ncomment'")


def test_a_name_repeated_1000_times_is_one_short_line(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text(",".join(["v"] * 1000) + ",y\n" + ",".join(["1"] * 1001) + "\n")
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert "'v' (columns 1, 2, 3, 4, 5 and 995 more); rename one" in str(info.value)
