// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters of the emulated TDISP device that the Rust module!
 * macro cannot declare: an array of device names, and a misbehaviour mask
 * that tests change while the module is loaded.
 */
#include <linux/compiler.h>
#include <linux/moduleparam.h>

#include "params.h"

#define TEEIO_EMU_MAX_DEVICES 4

static char *bdfs[TEEIO_EMU_MAX_DEVICES];
static int nr_bdfs;
module_param_array(bdfs, charp, &nr_bdfs, 0444);
MODULE_PARM_DESC(bdfs, "PCIe endpoints to emulate TDISP on, as DDDD:BB:DD.F (at most 4)");

static int misbehave;
module_param(misbehave, int, 0644);
MODULE_PARM_DESC(misbehave,
		 "emulated DSM misbehaviour bits: 1 wrong nonce, 2 truncated report, "
		 "4 oversized report portion, 8 illegal state transitions, "
		 "16 busy mailbox, 32 stuck mailbox, 64 spurious ERROR");

/* The @i-th device name, or NULL past the end. */
const char *teeio_emu_param_bdf(int i)
{
	return i >= 0 && i < nr_bdfs ? bdfs[i] : NULL;
}

int teeio_emu_param_misbehave(void)
{
	return READ_ONCE(misbehave);
}

void teeio_emu_param_set_misbehave(int mask)
{
	WRITE_ONCE(misbehave, mask);
}
