"""Serve whatever is the champion: python serve.py NAME INPUT_CSV prints, as JSON on its last
line, {"version": <the champion's version>, "predictions": [<one 0/1 per row>]}.

TODO: load models:/NAME@champion with mlflow.pyfunc and predict the CSV's rows.
"""

import sys

if __name__ == "__main__":
    sys.exit("serve.py: not written yet")
