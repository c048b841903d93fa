/*  replay — the host's share of the node's replay budget (--replay-budget
    over the hosts): every session's ring is bounded on its own
    (--replay-events, --replay-bytes), and all of a host's rings together
    by its share, the oldest events anywhere on the host evicted first.

    Owns: the events kept on this host in the order they were kept (a
    circular array of session id and event id). An entry whose event its
    ring already let go (its own bound, or the session ended) is skipped
    when it comes up, and dropped when the array is compacted: it never
    holds more than about twice the events the rings keep.
*/
#include "actors/host/replay.h"
#include "runtime/ring.h"

typedef struct {
    char sid [MCPZ_SID_SIZE + 1];
    uint64_t event_id;
} kept_t;

struct _replay_t {
    kept_t *kept;               //  circular, oldest at head
    size_t head, count, capacity;
    size_t bytes;               //  what every ring on the host holds
    size_t events;
    size_t budget;              //  this host's share
};

int
replay_setup (host_t *self)
{
    self->replay = (replay_t *) calloc (1, sizeof (replay_t));
    if (!self->replay)
        return -1;
    self->replay->budget = ((size_t) self->config->replay_budget + self->host_count - 1)
                         / self->host_count;
    return 0;
}

void
replay_destroy (host_t *self)
{
    if (self->replay)
        free (self->replay->kept);
    free (self->replay);
    self->replay = NULL;
}

static kept_t *
s_at (replay_t *replay, size_t index)
{
    return &replay->kept [(replay->head + index) % replay->capacity];
}

//  The ring of the entry's session, when it still holds the entry's event
static ring_t *
s_holder (host_t *self, kept_t *entry)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, entry->sid);
    ring_t *ring = session? session->ring: NULL;
    return ring && ring_size (ring) && ring_oldest (ring) <= entry->event_id? ring: NULL;
}

//  Room for one more entry, in an array of the live entries only when
//  many are dead; false when out of memory
static bool
s_room (host_t *self)
{
    replay_t *replay = self->replay;
    bool compact = replay->count > 2 * replay->events + 1024;
    if (replay->count < replay->capacity && !compact)
        return true;
    size_t capacity = replay->capacity? replay->capacity: 1024;
    if (!compact && replay->count == capacity)
        capacity *= 2;
    kept_t *kept = (kept_t *) malloc (capacity * sizeof (kept_t));
    if (!kept)
        return false;
    size_t count = 0;
    for (size_t index = 0; index < replay->count; index++)
        if (!compact || s_holder (self, s_at (replay, index)))
            kept [count++] = *s_at (replay, index);
    free (replay->kept);
    replay->kept = kept;
    replay->capacity = capacity;
    replay->head = 0;
    replay->count = count;
    return count < capacity;
}

static void
s_evict_oldest (host_t *self)
{
    replay_t *replay = self->replay;
    while (replay->count && replay->bytes > replay->budget) {
        kept_t *entry = s_at (replay, 0);
        ring_t *ring = s_holder (self, entry);
        if (ring) {
            replay->bytes -= ring_drop_oldest (ring);
            replay->events--;
            self->evicted++;
            self->budget_evicted++;
        }
        replay->head = (replay->head + 1) % replay->capacity;
        replay->count--;
    }
}

void
replay_kept (host_t *self, session_t *session, uint64_t event_id, size_t bytes_before,
             size_t events_before)
{
    replay_t *replay = self->replay;
    replay->bytes += ring_bytes (session->ring);
    replay->bytes -= bytes_before;
    replay->events += ring_size (session->ring);
    replay->events -= events_before;
    //  Without memory to remember its age, its own ring's bounds evict it
    if (!s_room (self))
        return;
    kept_t *entry = &replay->kept [(replay->head + replay->count) % replay->capacity];
    memcpy (entry->sid, session->id, sizeof (entry->sid));
    entry->event_id = event_id;
    replay->count++;
    s_evict_oldest (self);
}

void
replay_forget (host_t *self, session_t *session)
{
    if (session->ring && self->replay) {
        self->replay->bytes -= ring_bytes (session->ring);
        self->replay->events -= ring_size (session->ring);
    }
}

size_t
replay_held (host_t *self)
{
    return self->replay? self->replay->bytes: 0;
}
