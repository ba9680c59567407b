/* SPDX-License-Identifier: GPL-2.0 */
/* Accessors of the emulated TDISP device's module parameters (params.c). */
#ifndef TEEIO_TDISP_EMU_PARAMS_H
#define TEEIO_TDISP_EMU_PARAMS_H

const char *teeio_emu_param_bdf(int i);
int teeio_emu_param_misbehave(void);
void teeio_emu_param_set_misbehave(int mask);

#endif /* TEEIO_TDISP_EMU_PARAMS_H */
