/* Helpers shared by the training loops. */
#ifndef SVDD_TRAIN_H
#define SVDD_TRAIN_H

#include "../nn/network.h"

/* Validate the options every training loop shares. */
svdd_status svdd__check_train_options(const svdd_train_options *o, svdd_error *err);
/* MultiStepLR: lr * gamma^(number of milestones <= epoch0), epoch0 counted from 0. */
double svdd__lr_at_epoch(const svdd_train_options *o, int epoch0);

#endif
