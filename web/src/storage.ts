// storage keeps what the page remembers across visits (that there is a
// session, the chosen protocol and codec; never a token) in localStorage,
// under "parley.".
export const storage = {
  get: (key: string): string => localStorage.getItem("parley." + key) ?? "",
  // set stores value, or removes the key when value is empty.
  set: (key: string, value: string): void =>
    value ? localStorage.setItem("parley." + key, value) : localStorage.removeItem("parley." + key),
};
