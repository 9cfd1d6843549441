import { Link, Text } from "@chakra-ui/react";
import { type MouseEvent, type ReactNode, useState } from "react";

import { api } from "../common/api";

/**
 * A link to a report beside a moved file. A click asks the API first whether the report is still
 * there (a re-import moves the file on and removes its old reports): if it is, it downloads; if
 * not, the page says why, in place, instead of opening a raw JSON 404.
 */
export const ReportLink = ({
  name,
  reportKey,
  children,
}: {
  readonly name: string;
  readonly reportKey: string;
  readonly children: ReactNode;
}) => {
  const [gone, setGone] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const href = api.reportUrl(name, reportKey);
  const open = async (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    setChecking(true);
    try {
      const found = await api.checkReport(name, reportKey);
      if (!found.exists) {
        setGone(found.reason ?? "it does not exist any more");
        return;
      }
      setGone(null);
      window.location.assign(href); // an attachment: it downloads, the page stays
    } catch (e) {
      setGone((e as Error).message);
    } finally {
      setChecking(false);
    }
  };
  return (
    <>
      <Link href={href} colorPalette="blue" onClick={(e) => void open(e)} aria-busy={checking} data-report={reportKey}>
        {children}
      </Link>
      {gone ? (
        <Text as="span" fontSize="xs" color="red.fg" role="alert" data-report-gone={reportKey}>
          this report is gone: {gone}
        </Text>
      ) : null}
    </>
  );
};
