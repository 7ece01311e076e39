"""Registered data sets beyond MovieLens, each with a named, documented preprocessing recipe.

A recipe's raw file is looked for at `$SEQREC_DATA/<name>/<file>` (see `benchmark.datasets.
data_root`). Nothing is downloaded: none of these sources publishes a checksum (a download could
not be verified before it is parsed) and Yelp's file needs its terms accepted. A missing file is
a one-line error naming the file, where to get it and the folder to put it in. Verification: none of these
sources publishes checksums, so the statistics after the recipe (users, items, interactions)
are checked against the figures the recipe is meant to reproduce. `strict` figures (a fixed
source file, figures from two independent tables) make a mismatch an error; the others (a
source that is re-released, or figures given only roughly) log a warning.

Every recipe: one event per line of the raw file, in file order; timestamps as the source
gives them (equal timestamps keep file order); then a k-core on users and items (counting
events, repeated until stable). `--repeats`, `--min-rating` and further k-core options of a
run apply after the recipe, and are not part of the check; the recipe's k-core is applied again
after them (`to_implicit`), so that what is evaluated is a k-core too (under `--repeats first`
a user whose five events were one item repeated would otherwise keep one event).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from benchmark.datasets.dumps import DUMP_READERS
from protocols.data import k_core
from protocols.errors import InputError
from protocols.types import RawData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expected:
    """Statistics the recipe is meant to reproduce, and where they come from."""

    users: int
    items: int
    interactions: int | None  # None: the source gives no exact figure
    source: str
    strict: bool  # a mismatch is an error (else a warning)


@dataclass(frozen=True)
class Recipe:
    name: str
    source: str  # who publishes the raw file
    file: str  # the raw file to put in $SEQREC_DATA/<name>/
    url: str  # where to fetch it
    reader: str  # a key of dumps.DUMP_READERS
    recipe: str  # the recipe's name, recorded with the data set
    steps: str  # what the recipe does, in words
    min_user: int = 5
    min_item: int = 5
    expected_figures: Expected | None = None
    note: str = ""

    kind = "recipe"

    @property
    def needs(self) -> str:
        return f"{self.name}/{self.file}"

    @property
    def expected(self) -> str:
        want = self.expected_figures
        if want is None:
            return self.note or "not checked"
        shown = "/".join(
            "?" if v is None else f"{v:,}" for v in (want.users, want.items, want.interactions)
        )
        return f"{shown} users/items/interactions ({want.source})"

    def present(self, root: Path) -> bool:
        return raw_path(self, root).is_file()

    def load(self, root: Path, min_rating_hint: float | None = None) -> RawData:
        return load_recipe(self, root)


_AMAZON_URL = "http://jmcauley.ucsd.edu/data/amazon/ (2014 edition, 'Small subsets', 5-core)"
_AMAZON_STEPS = (
    "every review is an interaction (ratings kept, not filtered); time = unixReviewTime "
    "(whole days, so equal times keep file order); 5-core users and items (the published "
    "file is already 5-core, so this changes nothing on it)"
)
# Beauty, Sports, Toys: S3-Rec (Zhou et al., CIKM 2020), Table 1, which uses these 5-core
# files; the same figures are in Cornac's README data set table (Amazon Toy, Beauty, ...).
# Video Games: the 5-core file's figures as tabulated by later sequential-recommendation
# papers (e.g. the "Games" row of UniTok's data set table); SASRec's own Games and Beauty
# tables count a different, larger preprocessing of the full review files.
_S3REC = "S3-Rec (Zhou et al., CIKM 2020), Table 1; Cornac README data set table"


def _amazon(name: str, category: str, expected: tuple[int, int, int], source: str) -> Recipe:
    return Recipe(
        name=name,
        source="Amazon reviews 2014 (J. McAuley, UCSD)",
        file=f"reviews_{category}_5.json.gz",
        url=_AMAZON_URL,
        reader="amazon",
        recipe="amazon-2014-5core",
        steps=_AMAZON_STEPS,
        expected_figures=Expected(*expected, source=source, strict=True),
    )


SETS: tuple[Recipe, ...] = (
    _amazon("amazon-beauty", "Beauty", (22_363, 12_101, 198_502), _S3REC),
    _amazon("amazon-sports", "Sports_and_Outdoors", (35_598, 18_357, 296_337), _S3REC),
    _amazon("amazon-toys", "Toys_and_Games", (19_412, 11_924, 167_597), _S3REC),
    _amazon(
        "amazon-games", "Video_Games", (24_303, 10_672, 231_780),
        "5-core Video Games figures as tabulated by later papers (e.g. UniTok's data set "
        "table, 'Games'); not checked against McAuley's page",
    ),
    Recipe(
        name="steam",
        source="Steam reviews (Kang and McAuley, ICDM 2018; UCSD)",
        file="steam_reviews.json.gz",
        url="https://cseweb.ucsd.edu/~jmcauley/datasets.html#steam_data (review data)",
        reader="steam",
        recipe="sasrec-steam-5core",
        steps="every review is an interaction; time = review date (days); 5-core users "
        "and items",
        # SASRec's Table 1 gives users and items exactly, actions only as 3.7M.
        expected_figures=Expected(334_730, 13_047, None, "SASRec (Kang and McAuley, ICDM 2018), "
                          "Table 1", strict=False),
    ),
    Recipe(
        name="yelp",
        source="Yelp Open Dataset",
        file="yelp_academic_dataset_review.json",
        url="https://www.yelp.com/dataset (JSON download; extract the review file)",
        reader="yelp",
        recipe="s3rec-yelp-2019-5core",
        steps="reviews dated 2019-01-01 00:00:00 to 2019-12-31 00:00:00 (S3-Rec's window, "
        "so 31 December after midnight is out); every review is an interaction (stars kept); "
        "time = review date and time; 5-core users and items",
        # Yelp re-releases its data set, so other releases give other counts: a warning.
        expected_figures=Expected(30_431, 20_033, 316_354, "S3-Rec (Zhou et al., CIKM 2020), "
                          "Table 1 (the same figures in P5's table)", strict=False),
    ),
    Recipe(
        name="gowalla",
        source="Gowalla check-ins (SNAP, Cho et al., KDD 2011)",
        file="loc-gowalla_totalCheckins.txt.gz",
        url="https://snap.stanford.edu/data/loc-gowalla.html",
        reader="gowalla",
        recipe="gowalla-checkins-5core",
        steps="every check-in is an interaction, items are locations; time = check-in "
        "time; 5-core users and items",
        note="no published figure for this recipe was found: statistics are not checked",
    ),
    Recipe(
        name="lastfm-1k",
        source="Last.fm 1K users (O. Celma)",
        file="userid-timestamp-artid-artname-traid-traname.tsv",
        url="http://ocelma.net/MusicRecommendationDataset/lastfm-1K.html "
        "(extract it from lastfm-dataset-1K.tar.gz)",
        reader="lastfm",
        recipe="lastfm-1k-artists-5core",
        steps="every play is an interaction, items are artists (by name); time = play "
        "time; 5-core users and items",
        note="no published figure for this recipe was found: statistics are not checked",
    ),
)  # fmt: skip


def raw_path(recipe: Recipe, root: Path) -> Path:
    return root / recipe.name / recipe.file


def load_recipe(recipe: Recipe, root: Path) -> RawData:
    """Read the raw file of `recipe` from the data folder, apply the recipe and check it."""
    path = raw_path(recipe, root)
    if not path.is_file():
        raise InputError(
            f"{recipe.name}: {path} is missing: fetch {recipe.file} from {recipe.url} and put "
            f"it in {path.parent}"
        )
    log.info("%s: reading %s (recipe %s)", recipe.name, path, recipe.recipe)
    frame = k_core(DUMP_READERS[recipe.reader](path), recipe.min_user, recipe.min_item)
    check(recipe, (frame["user"].nunique(), frame["item"].nunique(), len(frame)), path)
    frame = frame.reset_index(drop=True)
    return RawData(recipe.name, frame, None, str(path), recipe.min_user, recipe.min_item)


def check(recipe: Recipe, found: tuple[int, int, int], path: Path) -> None:
    """Compare (users, items, interactions) after the recipe with the expected figures."""
    want = recipe.expected_figures
    if want is None:
        return
    expected = (want.users, want.items, want.interactions)
    if all(e is None or e == f for e, f in zip(expected, found, strict=True)):
        return
    shown = "/".join("?" if e is None else f"{e:,}" for e in expected)
    problem = (
        f"{path}: the {recipe.recipe} recipe gives {found[0]:,} users/{found[1]:,} items/"
        f"{found[2]:,} interactions, expected {shown} ({want.source})"
    )
    if want.strict:
        raise InputError(
            f"{problem}: the file is truncated, altered or another version; fetch "
            f"{recipe.file} again from {recipe.url}"
        )
    log.warning("%s; this source has several versions, so the run goes on", problem)
