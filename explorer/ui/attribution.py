"""Attribution: which input tokens pushed a model towards its prediction (Captum), for every family."""
import pandas as pd
import streamlit as st

from explorer import analysis
from explorer.ui import common

DEFAULT = "The children played in the ___ all afternoon ."
METHODS = {"integrated_gradients": "Integrated gradients (exact, slower)",
           "gradient_x_input": "Gradient × input (fast)"}


def render():
    st.title("Attribution")
    st.markdown("Which words made a model predict what it did? Integrated gradients walks from an empty input to "
                "the real one and adds up how much each token raised the prediction's log-probability; the "
                "convergence delta says how exactly those shares add up. Red raised the prediction, blue lowered it. "
                "Put a blank (`___`) to explain the word a model puts there, or none to explain the next word "
                "(GPT family and ELMo).")
    names = common.require_models()
    text = common.sentence("Sentence", DEFAULT, key="attribution-text")
    cols = st.columns([2, 2, 1])
    method = cols[0].radio("Method", list(METHODS), format_func=METHODS.get, key="attribution-method",
                           horizontal=True)
    target = cols[1].text_input("Target token (empty: each model's own top prediction)", "",
                                key="attribution-target").strip() or None
    steps = cols[2].number_input("Steps", 8, 200, 32, step=8, key="attribution-steps",
                                 disabled=method != "integrated_gradients",
                                 help="Integration steps: more steps, smaller convergence delta.")
    if text is None:
        return
    for i, name in enumerate(names):
        with st.container(border=True), common.guard("Attribution", name):
            result = attribute(name, text, target, method, int(steps))
            explain(result, i)


@common.cached
def attribute(name: str, text: str, target, method: str, steps: int):
    with common.exclusive_model(name) as model:
        return analysis.attribution.attribute(model, text, target, method, steps, yield_point=common.give_way)


def explain(result, index: int):
    cols = st.columns([3, 1, 1, 1])
    cols[0].markdown(f"**{result.model}** predicts **{result.target}** ({result.context})")
    cols[1].metric("probability", f"{result.probability:.3f}")
    cols[2].metric("log p change", f"{result.output - result.baseline_output:+.3f}",
                   help="log-probability of the target for this input minus for the baseline (every word blanked)")
    if result.delta is not None:
        cols[3].metric("convergence delta", f"{result.delta:+.1e}",
                       help="sum of the scores minus the log p change: near 0 means the scores account for it")
    st.html(analysis.attribution.attribution_html(result))
    table = pd.DataFrame({"token": result.tokens, "score": result.scores})
    fig = analysis.attribution.attribution_figure(result)
    fig.update_layout(height=340)
    common.chart(fig, key=f"attribution-{index}", data=table, name=f"attribution-{result.model}")


if __name__ == "__main__":
    render()
