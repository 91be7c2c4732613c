/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The entry point libFuzzer calls for each input; every target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
