// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The one duration and size formatter lives with the models (no widgets needed to test it).
#include "models/format.h"
