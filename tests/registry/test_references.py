import pytest

from leanspike.errors import RegistryError
from leanspike.registry import Ref, parse_ref


@pytest.mark.parametrize("text, ref", [
    ("digits", Ref("digits")),
    ("digits:3", Ref("digits", version=3)),
    ("digits@latest", Ref("digits")),
    ("digits@pruned", Ref("digits", stage="pruned")),
    ("vgg16.cifar10-T2_a", Ref("vgg16.cifar10-T2_a")),
])
def test_parse(text, ref):
    assert parse_ref(text) == ref


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", "a..b", ".hidden", "-x", "a b",
                                 "digits:0", "digits:x", "digits:-1", "digits@", "digits@../x",
                                 "x" * 129, "naïve"])
def test_rejected(bad):
    with pytest.raises(RegistryError):
        parse_ref(bad)
