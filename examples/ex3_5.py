"""Example 3.5: W_E* = [[1, 1], [0, 0]], W_D* = [[1/2, 0], [1/2, 0]] under Top-1 o ReLU is a partial optimum
with L~ = 1 (exact gradients, both blocks re-solved)."""
from _common import show

from sdlscape.verify.claims import Context, check_function


def main() -> None:
    res = check_function("ex3.5")("topk_relu", Context())
    row = res.evidence["per_activation"][0]
    print(f"L~ = {row['loss']}, exact L~ = {res.evidence['exact']['loss']}, decoder gap {row['clarabel']['decoder_gap']:.2g}, "
          f"encoder gap {row['clarabel']['encoder_gap']:.2g}, ACS: {row['acs_outcome']}")
    show(res)


if __name__ == "__main__":
    main()
