"""The lessons' experiments: what one lesson runs, plots or lets the student explore, beside the
generic runtime (``course.data``, ``course.train``, ``course.runtime``, ``course.plots``,
``course.checks``) that every lesson uses.

* :mod:`.degradation` — lesson 02: plain vs residual nets of growing depth (He et al. 2015, Fig. 1);
* :mod:`.costs` — lessons 03 and 04: the cost explorers of a bottleneck and of Inception's branches;
* :mod:`.results` — lesson 05: a trained classifier's curves, confusion matrix and mistakes;
* :mod:`.variants` — lesson 06: the residual unit variants (He et al. 2016, Fig. 4, Table 2);
* :mod:`.comparison` — lesson 07: ResNet, highway and DenseNet side by side;
* :mod:`.panels` — the scaffolding they share: a figure as PNG bytes, sliders, a panel that
  recomputes when a control moves, the Run panel of a training experiment.

Nothing here implements a graded exercise: each experiment is driven by the student's own code,
passed in as arguments. A notebook imports them as ``from course.experiments import variants``.
"""
