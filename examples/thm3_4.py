"""Thm 3.4 on the paper's Fig. 4 (4 features in 2-D, 5 latents): zero loss without recovering any feature,
by encoder rows and by decoder columns, for ReLU; TopK(1) forces every decoder column onto a feature."""
import numpy as np
from _common import show

from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import Instance
from sdlscape.verify.claims import Context, check_function


def main() -> None:
    t = np.radians([0.0, 45.0, 90.0, 135.0])
    for act in ("relu", TopK(k=1)):
        inst = Instance(W_p=np.vstack([np.cos(t), np.sin(t)]), activation=act, n_latents=5, name="fig4")
        res = check_function("thm3.4")(inst.activation.name, Context(instance=inst))
        (row,) = res.evidence["table"]
        print(f"{inst.activation}: {row['zero_loss_points']} zero-loss points; recovering no feature by encoder rows: "
              f"{row['encoder_recovers_none']}, by decoder columns: {row['decoder_recovers_none']}")
        show(res)


if __name__ == "__main__":
    main()
