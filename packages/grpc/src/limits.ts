/** containerd's limit: 16 MiB each way. */
export const maxMessageBytes = 16 << 20;
