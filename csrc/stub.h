/* nsbox-init (csrc/init/), embedded in nsbox.core and loaded into a sealed memfd. */
#ifndef NSBOX_STUB_H
#define NSBOX_STUB_H

/* The sealed, close-on-exec memfd holding nsbox-init, made once per process;
 * -1 with errno set if it cannot be made. */
int nsbox_stub_fd(void);

#endif
