from metallb.config.model import (
    AddressRange,
    NodeSelector,
    Peer,
    Pool,
    SelectorRequirement,
    selectors_match,
)


# rule C7
def test_empty_selector_list_selects_every_node():
    assert selectors_match((), {"a": "b"})


# rule C7
def test_selectors_are_ored_and_each_is_anded():
    web = NodeSelector(match_labels=(("role", "web"),))
    edge = NodeSelector(
        match_labels=(("zone", "a"),),
        match_expressions=(SelectorRequirement("edge", "Exists"),),
    )
    assert selectors_match((web, edge), {"role": "web"})
    assert selectors_match((web, edge), {"zone": "a", "edge": ""})
    assert not selectors_match((web, edge), {"zone": "a"})


# rule C7
def test_requirement_operators():
    labels = {"k": "v"}
    assert SelectorRequirement("k", "In", ("v", "w")).matches(labels)
    assert not SelectorRequirement("k", "NotIn", ("v",)).matches(labels)
    assert SelectorRequirement("x", "NotIn", ("v",)).matches(labels)
    assert SelectorRequirement("x", "DoesNotExist").matches(labels)
    assert not SelectorRequirement("k", "DoesNotExist").matches(labels)


def test_pool_membership_by_family():
    pool = Pool(
        name="p",
        protocol="bgp",
        ranges=(
            AddressRange(first=0xC6336400, last=0xC63364FF, family=4, source="198.51.100.0/24"),
        ),
    )
    assert pool.contains_ip("198.51.100.255")
    assert not pool.contains_ip("198.51.101.0")
    assert not pool.contains_ip("::c633:6400")


def test_peer_password_is_not_in_repr():
    peer = Peer(peer_address="192.0.2.1", peer_asn=64500, my_asn=64501, password="s3cret")
    assert "s3cret" not in repr(peer)
    assert not peer.is_ibgp
