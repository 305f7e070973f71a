"""The seed guide's TensorBoard sample (section 7.7): a scalar `loss` written into LOGDIR.

python - LOGDIR < tensorboard-sample.py      (run over ssh with the image's python)
"""

import sys

import numpy as np
import tensorflow as tf

writer = tf.summary.create_file_writer(sys.argv[1])
with writer.as_default():
    for epoch in range(100):
        tf.summary.scalar("loss", np.random.random(), step=epoch)
        writer.flush()
print("wrote loss scalars")
