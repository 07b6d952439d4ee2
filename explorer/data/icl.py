"""The key -> value format shared by the in-context retrieval task and the causal models' training mix.

Following Chan et al. (2022), in-context learning emerges when some training sequences are
"bursty": a mapping that repeats within the sequence and changes between sequences. A share of
the causal models' training sequences are such mapping documents; the `retrieval` few-shot task
asks for a key's value given pairs in the prompt, in exactly this format. The value follows the key
directly ("apple 3"), the shape an induction head completes ([A][B] ... [A] -> [B], Olsson et al. 2022);
with a separator ("apple -> 3") the lookup has to match two tokens back, and the tiny models trained on
30M tokens did not learn it.
"""
import random

TEMPLATE = "{input} {output}\n"
VALUES = [str(d) for d in range(10)]
KEYS = """
apple bird boat bread chair cloud coat cup desk door dog egg field fire fish flower fork garden
glass hat hill horse house ice island key king lamp leaf letter lion milk moon mountain nest
night ocean orange paper pen pencil pig plate queen rain ring river road rock rose salt sand
school sea sheep ship shoe sky snow song star stone street sun table tea tiger tower town
train tree village wall water wheel window wine winter wolf wood bank bell bottle box bridge
butter candle castle cat church clock corn cow crown drum farm flag forest frog gate gold
grass heart honey iron jar kettle knife ladder lake market mirror mouse needle onion owl
""".split()


def mapping_lines(rng: random.Random, n_keys: int, n_lines: int) -> list[tuple[str, str]]:
    """A fresh random mapping over ``n_keys`` keys, queried ``n_lines`` times with repeats (bursty)."""
    keys = rng.sample(KEYS, n_keys)
    mapping = {k: rng.choice(VALUES) for k in keys}
    return [(k, mapping[k]) for k in (rng.choice(keys) for _ in range(n_lines))]


def mapping_document(rng: random.Random, n_lines: int = 24) -> str:
    """One training document: key -> value lines of one random mapping."""
    pairs = mapping_lines(rng, rng.randint(2, 12), n_lines)
    return "".join(TEMPLATE.format(input=k, output=v) for k, v in pairs)
