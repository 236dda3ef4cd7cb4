/* xg_maglev: ARRAY_OF_MAPS, service id -> an ARRAY of XG_MAGLEV_SIZE backend ids (indexes
 * into xg_backends). The agent builds a new inner array and swaps it in with one update of
 * the outer map, so a packet sees either the old table or the new one, never half. */
#ifndef XGATE_MAPS_MAGLEV_H
#define XGATE_MAPS_MAGLEV_H

#include "maps/common.h"

typedef __u32 xg_maglev_slot; /* inner key: slot in [0, XG_MAGLEV_SIZE) */
typedef __u32 xg_backend_id;  /* inner value */

#endif
