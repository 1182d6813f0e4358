"""Rendering labels: size, dpi, text ink where it belongs, ^FR, ^GB and barcodes that decode."""

from __future__ import annotations

import io
import statistics
import time

import pytest
import zxingcpp
from PIL import Image

from drivers.errors import EncodingError
from drivers.zpl.fonts import measure_text
from drivers.zpl.format import FormatState, Label, parse_format
from drivers.zpl.render import label_png, label_text, render_label

DPIS = (203, 300)


def label_of(body: str, dpi: int = 203) -> Label:
    """A 2 x 3 in label at ``dpi`` around the given field commands (UTF-8)."""
    zpl = f"^XA^CI28^PW{2 * dpi}^LL{3 * dpi}{body}^XZ"
    return parse_format(zpl.encode("utf-8"), FormatState(dpi=dpi))


def png_image(label: Label) -> Image.Image:
    image = Image.open(io.BytesIO(label_png(label)))
    image.load()
    return image


def ink(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Number of black pixels inside ``box`` (left, top, right, bottom; exclusive)."""
    return sum(image.convert("L").crop(box).histogram()[:128])


def ink_bbox(image: Image.Image) -> tuple[int, int, int, int] | None:
    inverted = Image.eval(image.convert("L"), lambda value: 255 - value)
    return inverted.getbbox()


def decode(label: Label, fmt: zxingcpp.BarcodeFormat) -> list[str]:
    image = png_image(label).convert("L")
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(fmt))
    return [result.text for result in results]


# -- the page --------------------------------------------------------------------------------
@pytest.mark.parametrize("dpi", DPIS)
def test_png_is_label_sized_white_and_records_dpi(dpi: int) -> None:
    image = png_image(label_of("", dpi))
    assert image.size == (2 * dpi, 3 * dpi)
    assert ink(image, (0, 0, *image.size)) == 0
    assert tuple(round(value) for value in image.info["dpi"]) == (dpi, dpi)


def test_label_without_pw_ll_falls_back_to_4_by_6_inches() -> None:
    label = parse_format(b"^XA^FO0,0^A0N,20^FDx^FS^XZ", FormatState(dpi=203))
    assert render_label(label).size == (812, 1218)


# -- text ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dpi", DPIS)
def test_text_ink_lies_in_its_cell(dpi: int) -> None:
    image = render_label(label_of("^FO40,50^A0N,40,40^FDPrice^FS", dpi))
    width = measure_text("Price", 40, 40)
    assert ink(image, (40, 50, 40 + width, 90)) > 200
    box = ink_bbox(image)
    assert box is not None
    left, top, right, bottom = box
    assert 40 <= left <= 44 and 49 <= top <= 53  # 1-bit hinting may move an edge by a dot
    assert 40 + width - 4 <= right <= 40 + width + 1
    assert bottom <= 90


def test_ft_text_stands_on_its_baseline() -> None:
    image = render_label(label_of("^FT40,100^A0N,40^FDHEH^FS"))
    box = ink_bbox(image)
    assert box is not None
    assert 99 <= box[3] <= 101  # capitals end on the baseline (1-bit hinting: +-1 dot)


def test_measure_text_grows_with_text_and_height_and_stretches_with_width() -> None:
    assert measure_text("", 30) == 0
    assert measure_text("Sale", 30) < measure_text("Sale price", 30)
    assert measure_text("Sale", 30) < measure_text("Sale", 60)
    assert measure_text("Sale", 30, 60) == pytest.approx(2 * measure_text("Sale", 30), abs=1)
    assert measure_text("Sale", 30, 30) == measure_text("Sale", 30)


def test_measure_text_matches_the_drawn_line() -> None:
    # A colleague strikes prices through with a ^GB of measure_text() dots.
    for height, width in ((30, 30), (40, 25), (60, 80)):
        image = render_label(label_of(f"^FO10,10^A0N,{height},{width}^FD€ 49,00^FS"))
        box = ink_bbox(image)
        assert box is not None
        # The advance ends just after the last glyph's ink (its right side bearing).
        gap = 10 + measure_text("€ 49,00", height, width) - box[2]
        assert 0 <= gap <= max(3, width // 10)


def test_reverse_text_is_white_inside_a_black_box() -> None:
    label = label_of("^FO20,20^GB200,60,60^FS^FO30,30^A0N,40^FR^FDSALE^FS")
    image = render_label(label).convert("L")
    width = measure_text("SALE", 40)
    whites = sum(image.crop((30, 25, 30 + width, 70)).histogram()[128:])
    assert whites > 150  # the letters came out white
    assert ink(image, (20, 20, 220, 80)) + whites == 200 * 60
    assert ink(image, (30 + width + 5, 22, 218, 78)) == (218 - 35 - width) * 56  # still black


def test_reverse_text_on_white_is_black() -> None:
    plain = render_label(label_of("^FO30,30^A0N,40^FDSALE^FS"))
    reverse = render_label(label_of("^FO30,30^A0N,40^FR^FDSALE^FS"))
    assert plain.tobytes() == reverse.tobytes()


def test_field_block_wraps_centres_and_drops_extra_lines() -> None:
    text = "one two three four five six seven eight nine ten"
    image = render_label(label_of(f"^FO0,0^A0N,30^FB400,2,10,C^FD{text}^FS"))
    box = ink_bbox(image)
    assert box is not None
    left, top, right, bottom = box
    assert bottom <= 30 + 40 + 4  # two lines of 30 dots plus 10 spacing, no third line
    assert left > 5 and 400 - right > 5  # centred, not flush left
    assert abs(left - (400 - right)) <= 20
    assert ink(image, (0, 31, 400, 39)) < ink(image, (0, 0, 400, 30))  # a gap between lines


def test_field_block_hanging_indent_and_right_justify() -> None:
    right = render_label(label_of("^FO0,0^A0N,30^FB300,1,0,R^FDEnd^FS"))
    box = ink_bbox(right)
    assert box is not None and 296 <= box[2] <= 300
    indent = render_label(label_of("^FO0,0^A0N,30^FB300,2,0,L,100^FDfirst line\\&second^FS"))
    second = ink_bbox(indent.crop((0, 32, 406, 62)))
    assert second is not None and second[0] >= 100


def test_rotated_text_runs_down_the_label() -> None:
    image = render_label(label_of("^FO100,100^A0R,30^FDVertical^FS"))
    box = ink_bbox(image)
    assert box is not None
    assert box[3] - box[1] > 2 * (box[2] - box[0])


# -- boxes -----------------------------------------------------------------------------------
def test_box_outline_filled_and_white() -> None:
    image = render_label(
        label_of("^FO10,10^GB100,60,4^FS^FO150,10^GB50,50,50^FS^FO160,20^GB20,20,20,W^FS")
    )
    assert ink(image, (10, 10, 110, 14)) == 100 * 4  # top edge
    assert ink(image, (14, 14, 106, 66)) == 0  # hollow inside
    assert ink(image, (150, 10, 200, 60)) == 50 * 50 - 20 * 20  # white square cut out


def test_rounded_box_leaves_its_corners_white() -> None:
    image = render_label(label_of("^FO10,10^GB100,100,100,B,8^FS"))
    assert ink(image, (10, 10, 14, 14)) == 0
    assert ink(image, (40, 40, 80, 80)) == 1600


# -- barcodes --------------------------------------------------------------------------------
@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize(
    ("body", "fmt", "expected"),
    [
        ("^BY2^FO60,60^BEN,80,Y,N^FD400638133393^FS", "EAN13", "4006381333931"),
        ("^BY2^FO60,60^BUN,80^FD036000291452^FS", "UPCA", "036000291452"),
        ("^BY2^FO60,60^B8N,80^FD9638507^FS", "EAN8", "96385074"),
        ("^BY2^FO40,60^BCN,70,Y,N,N^FD>:SKU-12345^FS", "Code128", "SKU-12345"),
        (
            "^FO60,60^BQN,2,4^FDQA,https://example.com/p/1?x=ä^FS",
            "QRCode",
            "https://example.com/p/1?x=ä",
        ),
        ("^FO60,60^BXN,6,200^FDABC123xyz^FS", "DataMatrix", "ABC123xyz"),
    ],
)
def test_barcodes_decode_to_the_data_sent(dpi: int, body: str, fmt: str, expected: str) -> None:
    found = decode(label_of(body, dpi), getattr(zxingcpp.BarcodeFormat, fmt))
    if fmt == "UPCA":  # zxing-cpp 3 reports UPC-A with the EAN-13 leading zero
        found = [text[1:] if len(text) == 13 and text[0] == "0" else text for text in found]
    assert found == [expected]


def test_all_symbologies_on_one_tag_decode_together() -> None:
    label = label_of(
        "^BY2^FO20,20^BEN,60^FD400638133393^FS"
        "^FO20,140^BCN,60^FDSKU-12345^FS"
        "^FO20,260^FT20,460^BQN,2,4^FDMA,https://example.com/p/1^FS"
        "^FO250,300^BXN,6,200^FDABC123xyz^FS"
    )
    image = png_image(label).convert("L")
    found = {(r.format.name, r.text) for r in zxingcpp.read_barcodes(image)}
    assert found >= {
        ("EAN13", "4006381333931"),
        ("Code128", "SKU-12345"),
        ("QRCode", "https://example.com/p/1"),
        ("DataMatrix", "ABC123xyz"),
    }


def test_barcode_starts_at_the_field_origin_with_bar_height_and_module_width() -> None:
    image = render_label(label_of("^BY3^FO50,40^BCN,100,N^FDABC^FS"))
    box = ink_bbox(image)
    assert box is not None
    assert box[:2] == (50, 40) and box[3] == 140
    # Code 128 starts with a 2-module bar: 2 x 3 dots.
    row = [image.getpixel((x, 60)) for x in range(50, 60)]
    assert row[:6] == [0] * 6 and row[6] != 0


def test_interpretation_line_is_drawn_only_when_asked() -> None:
    with_line = ink_bbox(render_label(label_of("^BY2^FO50,40^BCN,60,Y^FDABC^FS")))
    without = ink_bbox(render_label(label_of("^BY2^FO50,40^BCN,60,N^FDABC^FS")))
    assert with_line is not None and without is not None
    assert without[3] == 100 and with_line[3] > 110


def test_qr_ft_anchors_the_bottom_left() -> None:
    image = render_label(label_of("^FT50,300^BQN,2,4^FDQA,hello^FS"))
    box = ink_bbox(image)
    assert box is not None and box[3] == 300 and box[0] == 50


def test_datamatrix_beyond_ascii_is_an_encoding_error() -> None:
    with pytest.raises(EncodingError):
        render_label(label_of("^FO10,10^BXN,5,200^FDäöü^FS"))


# -- text output -----------------------------------------------------------------------------
def test_label_text_lists_text_and_barcodes_in_order() -> None:
    label = label_of(
        "^FO0,0^A0N,30^FDShirt^FS^FO0,40^GB10,10,10^FS^FO0,60^A0N,20^FB300,2^FDa\\&b^FS"
        "^FO0,100^BEN,50^FD400638133393^FS^FO0,200^BQN,2,3^FDQA,https://x.test^FS"
        "^FO200,200^BXN,4,200^FDDM1^FS^ZZ9"
    )
    assert label_text(label).splitlines() == [
        "Shirt",
        "a b",
        "[BARCODE EAN13 4006381333931]",
        "[QR https://x.test]",
        "[DATAMATRIX DM1]",
        "[ignored ^ZZ]",
    ]


# -- speed -----------------------------------------------------------------------------------
TAG = (
    "^XA^CI28^PW406^LL609^MNY"
    + "".join(f"^FO20,{20 + i * 30}^A0N,28,24^FH^FDItem _C3_A4 {i}^FS" for i in range(11))
    + "^BY2^FO60,380^BEN,60^FD400638133393^FS^FO40,470^BCN,50^FDSKU-12345^FS"
    + "^FO300,380^BQN,2,3^FDQA,https://example.com/p/1^FS^FO10,10^GB386,589,3^FS^XZ"
).encode()


def median_seconds(action: object, runs: int) -> float:
    assert callable(action)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_rendering_a_2x3_tag_is_fast() -> None:
    label = parse_format(TAG, FormatState())
    assert len(label.fields) == 15
    render_label(label)  # warm the font and barcode caches
    assert median_seconds(lambda: render_label(label), 15) < 0.030


def test_parsing_a_15_field_tag_is_fast() -> None:
    # The figure that counts is in bench/; this only catches gross regressions on busy CI.
    assert median_seconds(lambda: parse_format(TAG, FormatState()), 200) < 0.001
