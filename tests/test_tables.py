"""Names of the code (model names, claim keys, constants) are set as code in the book's
tables and glued text, never left as words of a sentence; paths and URLs are left alone."""

import pandas as pd
import pytest

from seelike.book import tables
from seelike.book.codenames import as_html, as_markdown


@pytest.mark.parametrize("text, expected", [
    ("vit_cifar_noskip1", "<code>vit_cifar_noskip1</code>"),
    ("against resnet56_akamaster instead", "against <code>resnet56_akamaster</code> instead"),
    ("ViT: vit_base_patch32_224.augreg_in1k.",
     "ViT: <code>vit_base_patch32_224.augreg_in1k</code>."),
    ("< DISSIMILAR_CKA=0.5", "< <code>DISSIMILAR_CKA</code>=0.5"),
])
def test_names_of_the_code_are_set_as_code(text, expected):
    assert as_html(text) == expected
    assert as_markdown(text) == expected.replace("<code>", "`").replace("</code>", "`")


@pytest.mark.parametrize("text", ["benchmarks/bench_paper.py", "https://x.org/a_b",
                                  "plain words, 90 % interval", "chapters/05 table",
                                  "seelike-claims"])
def test_paths_urls_and_words_are_left_alone(text):
    assert as_html(text) == text


def test_styled_sets_names_in_cells_headers_and_caption_as_code():
    frame = pd.DataFrame({"model": ["vit_cifar_data10", "a <b> & c"],
                          "with resnet56_akamaster": [0.5, 0.25]})
    page = tables.styled(frame, caption="from fig2_lower_half").to_html()
    assert "<code>vit_cifar_data10</code>" in page
    assert "with <code>resnet56_akamaster</code>" in page
    assert "from <code>fig2_lower_half</code>" in page
    assert "a &lt;b&gt; &amp; c" in page  # text is still escaped
