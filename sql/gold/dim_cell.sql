-- Cell dimension: the radio cells of the home network with their location and capacity.
-- @materialized: table
-- @test: unique(cell_id)
-- @test: not_null(cell_id, latitude, longitude, capacity_erlang)
SELECT
    cell_id,
    lac,
    site_name,
    city,
    region,
    latitude,
    longitude,
    technology,
    capacity_erlang
FROM bronze.cell
