from localace.apis.seed_corpus import SeedDocument
from localace.apis.tree import TreeBuilder, candidate_phrases, is_placeholder, load_tree
from localace.backends.fake import FakeBackend
from localace.errors import ConstraintViolation
from localace.store.cache import CachedBackend

DOC = SeedDocument("weather", "Weather", "# Weather\n\nWeather APIs.\n\n- Get current conditions\n"
                   "- Retrieve an hourly forecast\n- List severe weather alerts\n")


def test_candidate_phrases_prefer_bullets_then_sentences():
    assert candidate_phrases(DOC.text) == ["Get current conditions", "Retrieve an hourly forecast",
                                           "List severe weather alerts"]
    assert candidate_phrases("# T\n\nFirst sentence here. Second one is longer.") == [
        "First sentence here", "Second one is longer"]


def test_placeholders_detected():
    assert is_placeholder("Subfunctionality of weather")
    assert is_placeholder("Weather API endpoints")
    assert not is_placeholder("Get hourly temperature")


def test_tree_from_scripted_model_merges_duplicates_and_placeholders(store):
    fake = FakeBackend([
        {"functionalities": ["Get current conditions", "List severe weather alerts"]},
        {"subfunctionalities": ["Get current temperature by city", "Get current temperatures by city",
                                "Subfunctionality one"]},
        {"subfunctionalities": ["List flood alerts for a region", "List severe weather alerts"]},
    ], improvise=False)
    builder = TreeBuilder(CachedBackend(fake, store), store, "t", depth=2, breadth=3, seed=0)
    [event] = list(builder.build([DOC]))
    names = [(n.depth, n.name) for n in load_tree(store, "t")]
    assert names == [(0, "Weather"), (1, "Get current conditions"), (1, "List severe weather alerts"),
                     (2, "Get current temperature by city"), (2, "List flood alerts for a region")]
    assert event.merged == 3 and event.failed_calls == 0


def test_tree_build_resumes_per_document_and_counts_failures(store):
    other = SeedDocument("music", "Music", "# Music\n\n- Search tracks by title\n- Create a playlist\n")
    fake = FakeBackend([ConstraintViolation("garbage")])  # first call fails; later ones improvise
    builder = TreeBuilder(CachedBackend(fake, store), store, "t", depth=1, breadth=3, seed=0)
    events = list(builder.build([DOC, other]))
    assert events[0].failed_calls == 1 and events[0].nodes_added == 1  # only the root
    calls = len(fake.calls)
    assert list(builder.build([DOC, other])) == []  # both documents are done: nothing to redo
    assert len(fake.calls) == calls
