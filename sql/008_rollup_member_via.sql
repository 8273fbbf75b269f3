-- A node's energy can count a meter through a linear virtual meter (e.g. site use = grid import + PV
-- + battery discharge - battery charge): the member row then names that virtual meter, so the
-- lineage of every node total can be shown.
ALTER TABLE rollup_member ADD COLUMN via_point_id integer;
COMMENT ON COLUMN rollup_member.via_point_id IS 'linear virtual meter through which the point counts (NULL: directly)';
