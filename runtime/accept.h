/*  accept — no accept in this process ever fails for want of a descriptor
    (see accept.c).
*/
#ifndef MCPZ_ACCEPT_H
#define MCPZ_ACCEPT_H

//  Keeps one descriptor spare for accepts to let go of. Call at start.
void
    accept_reserve (void);

#endif
