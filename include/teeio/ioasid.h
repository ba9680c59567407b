/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOASID core (teeio_ioasid): a system-wide ID space with sets, set-private
 * IDs, reference counting with FREE_PENDING and prioritized notifier
 * chains, after the IOASID design reviewed on LKML in 2020 (seed 003).
 * teeio uses it to sequence every TDI teardown: each TVM is a set, each
 * bound TDI holds an IOASID, and the CPU, DEVICE, IOMMU and LAST
 * subscribers tear their part down in that order.
 *
 * Context rules:
 *  - teeio_ioasid_get(), _put(), _find(), _find_by_spid() are safe in
 *    atomic context;
 *  - set_alloc(), set_free(), alloc(), free(), notify(), register(),
 *    unregister() and flush() may sleep;
 *  - _get_locked() and _put_locked() are for atomic handlers only, which
 *    run with the core's lock held;
 *  - deferred handlers run in process context on the core's ordered
 *    queue, in notification order and, within a notification, in priority
 *    order; they must not call flush() or unregister().
 */
#ifndef _TEEIO_IOASID_H
#define _TEEIO_IOASID_H

#include <linux/types.h>

typedef u32 teeio_ioasid_t;

/* No IOASID / no set-private ID. 0 is never allocated. */
#define TEEIO_IOASID_INVALID ((teeio_ioasid_t)0)

/**
 * enum teeio_ioasid_prio - notifier priorities, in ascending order
 * @TEEIO_IOASID_PRIO_LAST: runs last (free the object, recover resources)
 * @TEEIO_IOASID_PRIO_IOMMU: IOMMU contexts
 * @TEEIO_IOASID_PRIO_DEVICE: the device (stop it, revoke its resources)
 * @TEEIO_IOASID_PRIO_CPU: runs first (the CPU side: unmap, stop access)
 *
 * Higher priorities are called first. Among equal priorities, per-set
 * subscribers come before system-wide ones, each in registration order.
 */
enum teeio_ioasid_prio {
	TEEIO_IOASID_PRIO_LAST = 0,
	TEEIO_IOASID_PRIO_IOMMU = 1,
	TEEIO_IOASID_PRIO_DEVICE = 2,
	TEEIO_IOASID_PRIO_CPU = 3,
};

/**
 * enum teeio_ioasid_event - what happened to an IOASID
 * @TEEIO_IOASID_ALLOC: allocated
 * @TEEIO_IOASID_FREE: freed by its set's owner; it is FREE_PENDING until the
 *	last reference is put. Subscribers holding a reference tear down and
 *	put it.
 * @TEEIO_IOASID_BIND: first bind (published by teeio_ioasid_notify())
 * @TEEIO_IOASID_UNBIND: last unbind; never sent after FREE
 */
enum teeio_ioasid_event {
	TEEIO_IOASID_ALLOC = 1,
	TEEIO_IOASID_FREE = 2,
	TEEIO_IOASID_BIND = 3,
	TEEIO_IOASID_UNBIND = 4,
};

/**
 * struct teeio_ioasid_event_data - what a handler is told
 * @event: enum teeio_ioasid_event
 * @ioasid: the system-wide ID
 * @spid: its set-private ID, or TEEIO_IOASID_INVALID
 * @set: the set's id
 * @token: the set's token
 * @private: the IOASID's private data
 */
struct teeio_ioasid_event_data {
	u32 event;
	teeio_ioasid_t ioasid;
	teeio_ioasid_t spid;
	u32 set;
	u64 token;
	void *private;
};

/* Returned by an atomic handler to have its deferred handler called. */
#define TEEIO_IOASID_DEFER 1

/**
 * struct teeio_ioasid_subscriber - a notifier registration's description
 * @name: shown in the event log (up to 23 characters are kept)
 * @priority: enum teeio_ioasid_prio
 * @atomic: called with the core's lock held, in atomic context; returns 0
 *	or TEEIO_IOASID_DEFER. May be NULL: then @deferred is always called.
 * @deferred: called later in process context, in order; its return value
 *	is logged. May be NULL.
 * @data: passed to both
 *
 * The core copies the description; it need not outlive the call.
 */
struct teeio_ioasid_subscriber {
	const char *name;
	u32 priority;
	int (*atomic)(const struct teeio_ioasid_event_data *ev, void *data);
	int (*deferred)(const struct teeio_ioasid_event_data *ev, void *data);
	void *data;
};

struct teeio_ioasid_notifier;

/* Sets: named by an id; tokens are unique among live sets. */
int teeio_ioasid_set_alloc(u64 token, u32 quota, u32 *set);
int teeio_ioasid_set_adjust(u32 set, u32 quota);
int teeio_ioasid_set_free(u32 set);

/* IOASIDs: allocated in [min, max] within the system-wide space. */
int teeio_ioasid_alloc(u32 set, teeio_ioasid_t min, teeio_ioasid_t max,
		       void *private, teeio_ioasid_t *ioasid);
int teeio_ioasid_free(u32 set, teeio_ioasid_t ioasid);
int teeio_ioasid_get(u32 set, teeio_ioasid_t ioasid);
int teeio_ioasid_put(u32 set, teeio_ioasid_t ioasid);
int teeio_ioasid_get_locked(u32 set, teeio_ioasid_t ioasid);
int teeio_ioasid_put_locked(u32 set, teeio_ioasid_t ioasid);
int teeio_ioasid_find(u32 set, teeio_ioasid_t ioasid, bool get, void **private);
int teeio_ioasid_attach_data(u32 set, teeio_ioasid_t ioasid, void *private);
int teeio_ioasid_attach_spid(u32 set, teeio_ioasid_t ioasid, teeio_ioasid_t spid);
int teeio_ioasid_find_by_spid(u32 set, teeio_ioasid_t spid, bool get,
			      teeio_ioasid_t *ioasid);

/* Publishers: BIND and UNBIND (the first bind and the last unbind emit). */
int teeio_ioasid_notify(u32 set, teeio_ioasid_t ioasid, u32 event);

/*
 * Subscribers: system-wide (@token NULL) or for the set with *@token,
 * pending until such a set is created. A set that already has IOASIDs
 * takes no new subscribers (events are not replayed): -EBUSY.
 */
struct teeio_ioasid_notifier *
teeio_ioasid_register(const u64 *token, const struct teeio_ioasid_subscriber *sub);
void teeio_ioasid_unregister(struct teeio_ioasid_notifier *notifier);

/* Waits until every deferred handler queued so far has run. */
void teeio_ioasid_flush(void);

#endif /* _TEEIO_IOASID_H */
