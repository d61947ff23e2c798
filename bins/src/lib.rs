//! The shared runtime of the lvs binaries: a mio event loop that drives `lvs_core` machines over
//! real sockets.
