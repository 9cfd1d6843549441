import { useEffect, useState } from "react";

/** `value`, once it has stopped changing for `ms` (a rule being typed is not asked at each key). */
export const useDebounced = <T>(value: T, ms: number): T => {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
};
